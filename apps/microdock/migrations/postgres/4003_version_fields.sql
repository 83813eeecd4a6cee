-- Each version keeps the plugin-level fields of its own manifest (display name, description,
-- author, license, homepage, main DLL, entry class) as JSON, so the plugin row can be derived
-- from its current version after any change (issue 7 item 6). Rows uploaded before this
-- migration have NULL and keep the plugin's fields as they are.
ALTER TABLE plugin_versions ADD COLUMN plugin_fields TEXT;
