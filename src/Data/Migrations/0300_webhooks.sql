-- Webhooks: endpoints an owner registers, the outbox of events waiting for each endpoint (written in the same
-- transaction as the scans or the code change they describe), and the recent deliveries the owner can inspect
-- and replay. The outbox is the durable queue: a silo crash or a receiver down for a day loses nothing.
CREATE TABLE webhook_endpoints (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id             bigint      NOT NULL REFERENCES owners (id) ON DELETE CASCADE,
    url                  text        NOT NULL,
    events               text[]      NOT NULL,
    filter_codes         text[]      NULL,   -- only these codes (slugs); NULL = every code of the owner
    filter_tags          text[]      NULL,   -- only codes with one of these tags; NULL = no tag filter
    secret               text        NOT NULL,  -- the HMAC key: kept in clear because signing needs it, shown once
    status               text        NOT NULL DEFAULT 'active',
    disabled_reason      text        NULL,
    failing_since        timestamptz NULL,   -- first failure of the current run of failures
    consecutive_failures integer     NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz NOT NULL DEFAULT now(),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_status_known CHECK (status IN ('active', 'disabled')),
    CONSTRAINT webhook_endpoints_url_length CHECK (length(url) BETWEEN 1 AND 2048),
    CONSTRAINT webhook_endpoints_events_known CHECK (
        cardinality(events) > 0 AND events <@ ARRAY['scan', 'code.created', 'code.updated', 'code.deleted', 'code.gone']),
    CONSTRAINT webhook_endpoints_filters_bounded CHECK (
        coalesce(cardinality(filter_codes), 0) <= 1000 AND coalesce(cardinality(filter_tags), 0) <= 20)
);

-- The scan writer joins the scans' owners against the active endpoints.
CREATE INDEX webhook_endpoints_owner_active ON webhook_endpoints (owner_id) WHERE status = 'active';

-- One row per (endpoint, event). id gives the delivery order (per endpoint, hence per code).
CREATE TABLE webhook_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id  bigint      NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id     uuid        NOT NULL,   -- the same for every delivery of this event (receivers de-duplicate on it)
    event_type   text        NOT NULL,
    qr_code_id   bigint      NOT NULL,
    occurred_at  timestamptz NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (endpoint_id, id);
CREATE INDEX webhook_outbox_code ON webhook_outbox (qr_code_id);

-- The last deliveries per endpoint (pruned to a bounded number), with the events sent, so one can be replayed.
CREATE TABLE webhook_deliveries (
    id            uuid        PRIMARY KEY,
    endpoint_id   bigint      NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    succeeded     boolean     NOT NULL,
    response_code integer     NULL,
    latency_ms    integer     NOT NULL,
    event_count   integer     NOT NULL,
    error         text        NULL,
    events        jsonb       NOT NULL
);

CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, attempted_at DESC);

-- Codes whose code.gone event was queued, so that it is queued once per time the code goes (an update that
-- revives the code removes its row; deleting the code removes it with the code).
CREATE TABLE webhook_gone_notices (
    qr_code_id  bigint      PRIMARY KEY REFERENCES qr_codes (id) ON DELETE CASCADE,
    noticed_at  timestamptz NOT NULL DEFAULT now()
);

-- The code.gone sweep reads only the codes that can go: those with an expiry, those with a scan budget.
CREATE INDEX qr_codes_expiring ON qr_codes (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX qr_codes_scan_budget ON qr_codes (id) WHERE max_scans IS NOT NULL;
