-- Owners (the accounts that own codes) and their API keys. A key is shown once when created and
-- stored only as its SHA-256 hash: keys are 190-bit random strings, so a fast hash is enough and
-- lets every request be checked with one indexed lookup.
CREATE TABLE owners (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    role        text        NOT NULL DEFAULT 'owner',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT owners_name_length CHECK (length(name) BETWEEN 1 AND 200),
    CONSTRAINT owners_role_known CHECK (role IN ('admin', 'owner'))
);

CREATE UNIQUE INDEX owners_name_key ON owners (lower(name));

CREATE TABLE api_keys (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    bigint      NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    name        text        NOT NULL DEFAULT '',
    prefix      text        NOT NULL,   -- the key's first characters, to recognise it in listings
    key_hash    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz NULL,
    CONSTRAINT api_keys_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_name_length CHECK (length(name) <= 200)
);

CREATE INDEX api_keys_owner ON api_keys (owner_id);

-- Codes belong to owners; listing an owner's codes walks (owner_id, created_at DESC, id).
ALTER TABLE qr_codes
    ADD CONSTRAINT qr_codes_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id);
DROP INDEX qr_codes_owner_created;
CREATE INDEX qr_codes_owner_created ON qr_codes (owner_id, created_at DESC, id DESC);
