-- Unique constraints a client can violate are named <table>_<columns>_key on both backends,
-- the name the kernel derives from SQLite's "UNIQUE constraint failed: t.c" (docs/DATABASE.md).
ALTER TABLE users RENAME CONSTRAINT users_username_key TO users_username_key_key;
