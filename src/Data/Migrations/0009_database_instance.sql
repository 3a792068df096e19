-- This database's identity, made once. A silo's local scan spool (written while PostgreSQL is down)
-- is stamped with it, so a spool can never be replayed into another database: code ids are only
-- meaningful in the database that issued them.
CREATE TABLE invexqr_instance (
    id        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    singleton boolean     NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO invexqr_instance DEFAULT VALUES;
