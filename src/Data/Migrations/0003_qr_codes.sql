-- The code registry: one row per dynamic QR code. A code grain loads its row once on activation.
CREATE TABLE qr_codes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text        NOT NULL,
    owner_id    bigint      NULL,
    target_url  text        NOT NULL,
    type        text        NOT NULL DEFAULT 'url',
    title       text        NULL,
    status      text        NOT NULL DEFAULT 'active',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT qr_codes_code_key UNIQUE (code),
    CONSTRAINT qr_codes_code_format CHECK (code ~ '^[A-Za-z0-9_-]{3,64}$'),
    CONSTRAINT qr_codes_status_known CHECK (status IN ('active', 'disabled')),
    CONSTRAINT qr_codes_target_url_length CHECK (length(target_url) BETWEEN 1 AND 2048)
);

CREATE INDEX qr_codes_owner_created ON qr_codes (owner_id, created_at DESC);
