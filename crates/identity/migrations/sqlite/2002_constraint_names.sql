-- Nothing to rename on SQLite: it reports unique violations by column, and the kernel derives
-- the name users_username_key_key from them (docs/DATABASE.md). Kept so both backends share
-- version numbers.
SELECT 1;
