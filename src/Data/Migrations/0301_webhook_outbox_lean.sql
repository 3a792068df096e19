-- A leaner outbox: the scan path writes one row per (endpoint, scan) in the scan batch's statement, so every byte and
-- every index entry of it is paid at the scan rate.
-- * A scan event no longer carries a copy of its scan: the delivery builds it from the qr_scans row (found by its
--   primary key). A scan erased meanwhile (its code deleted, retention) is dropped, never sent, so deleting a code
--   no longer has to find its events in the outbox (the index on qr_code_id goes).
-- * One index, the primary key (endpoint_id, id): the delivery's reads, deletes and the pending counts all go by
--   endpoint in outbox order.
-- * No foreign key to webhook_endpoints (its check ran once per inserted row): the writers lock the endpoints they
--   queue for (FOR KEY SHARE, once per statement) and a trigger removes an endpoint's events when it is deleted,
--   whether by the API or with its owner.
ALTER TABLE webhook_outbox ALTER COLUMN payload DROP NOT NULL;
UPDATE webhook_outbox SET payload = NULL WHERE event_type = 'scan';
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_endpoint_id_fkey;
DROP INDEX webhook_outbox_code;
DROP INDEX webhook_outbox_endpoint;
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_pkey;
ALTER TABLE webhook_outbox ADD CONSTRAINT webhook_outbox_pkey PRIMARY KEY (endpoint_id, id);

CREATE FUNCTION webhook_outbox_forget_endpoints() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_outbox WHERE endpoint_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_endpoints_forget_outbox AFTER DELETE ON webhook_endpoints
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION webhook_outbox_forget_endpoints();
