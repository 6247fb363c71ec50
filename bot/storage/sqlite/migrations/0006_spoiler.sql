-- /imagine's spoiler option: the images of a job posted as spoilers (kept by Reroll and Edit).
-- NULL on older jobs means "not chosen", as for every other option.

ALTER TABLE jobs ADD COLUMN spoiler INTEGER CHECK (spoiler IN (0, 1));
