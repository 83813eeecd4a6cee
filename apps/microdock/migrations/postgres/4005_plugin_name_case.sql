-- Plugin names are unique in their canonical form, ASCII lower case (issue 7 item 3):
-- `Com.Example.X` cannot be published beside `com.example.x` (names are ASCII only).
CREATE UNIQUE INDEX plugins_lower_name_key ON plugins (LOWER(name));
