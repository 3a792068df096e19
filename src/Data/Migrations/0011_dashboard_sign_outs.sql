-- Dashboard sessions that were signed out before their cookie expires. A session cookie is self-contained
-- (data-protected, see dashboard_keys), so without this list a copy of a signed-out cookie would still work on
-- every gateway but the one that signed it out. Gateways look a session up here (cached for seconds); a row
-- is useless once its session would have expired anyway, and is deleted the next time someone signs out.
CREATE TABLE dashboard_sign_outs (
    session_id    text        PRIMARY KEY,
    expires_at    timestamptz NOT NULL,
    signed_out_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX dashboard_sign_outs_expires ON dashboard_sign_outs (expires_at);
