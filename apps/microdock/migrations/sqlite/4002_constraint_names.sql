-- Nothing to rename on SQLite (see the PostgreSQL migration of the same number). Kept so both
-- backends share version numbers.
SELECT 1;
