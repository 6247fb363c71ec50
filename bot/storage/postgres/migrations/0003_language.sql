-- /imagine-admin config set language: the language the whole server reads (a gettext catalogue
-- code such as "de" or "pt_BR"); NULL means each member reads their own Discord locale.

ALTER TABLE guild_settings ADD COLUMN language TEXT;
