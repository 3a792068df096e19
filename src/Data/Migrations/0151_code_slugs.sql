-- Slugs: one rule for case, and no reuse by someone else.
-- Codes keep the case they were created with (a scan must use it), but are unique whatever the case:
-- with 'Alice-Menu' taken, 'alice-menu' is refused. Codes that already differ only in case stop this
-- migration with their names: rename all but one of each first.
DO $$
DECLARE
    clashes text;
BEGIN
    SELECT string_agg(codes, '; ') INTO clashes
      FROM (SELECT string_agg(code, ', ' ORDER BY code) AS codes
              FROM qr_codes GROUP BY lower(code) HAVING count(*) > 1 LIMIT 20) c;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'codes that differ only in case exist: %. Rename all but one of each, then start again.', clashes;
    END IF;
END $$;

CREATE UNIQUE INDEX qr_codes_code_folded ON qr_codes (lower(code));

-- A deleted code's slug stays reserved to its owner: printed posters must not start following someone else.
-- When the owner is erased the reservation stays, held by nobody (owner_id NULL): the slug is never reused.
CREATE TABLE qr_code_tombstones (
    code_key    text        PRIMARY KEY,   -- lower(code)
    owner_id    bigint      NULL REFERENCES owners (id) ON DELETE SET NULL,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX qr_code_tombstones_owner ON qr_code_tombstones (owner_id);
