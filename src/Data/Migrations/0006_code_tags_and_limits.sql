-- Owners label codes with tags and may give a code an expiry date and a scan budget. Past either,
-- the code answers 410 Gone (decided by the code grain from its in-memory state).
ALTER TABLE qr_codes
    ADD COLUMN tags       text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN expires_at timestamptz NULL,
    ADD COLUMN max_scans  bigint      NULL,
    ADD CONSTRAINT qr_codes_max_scans_positive CHECK (max_scans IS NULL OR max_scans > 0),
    ADD CONSTRAINT qr_codes_tags_bounded CHECK (cardinality(tags) <= 20);

-- Tag filter on the owner's list (tags @> ARRAY[$tag]).
CREATE INDEX qr_codes_tags ON qr_codes USING gin (tags);
