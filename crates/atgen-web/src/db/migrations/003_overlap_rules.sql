-- With overlap > 1, which annotation becomes the label: first | majority | owner (the run's
-- owner, who created it, picks one: `queue_items.chosen` is the picked annotation's id).
ALTER TABLE runs ADD COLUMN overlap_rule TEXT NOT NULL DEFAULT 'first';
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE queue_items ADD COLUMN chosen INTEGER;
