-- Administrators see nothing of a backup owner's key (issue 7 item 14): the hint that showed
-- its first three characters goes. New rows store the key as an HMAC (see store/backups.rs).
UPDATE backups SET user_key_hint = '***';
