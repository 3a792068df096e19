-- Smart routing (issue 23). A code's rules, schedule, UTM parameters, pass-through and fallback, as one document the
-- code grain compiles when it loads (NULL: no routing); an owner's fallback URL for codes that no longer redirect;
-- and on each raw scan the rule or A/B variant that sent it (NULL for codes without routing).
ALTER TABLE qr_codes ADD COLUMN routing jsonb NULL;
ALTER TABLE owners ADD COLUMN fallback_url text NULL;
ALTER TABLE qr_scans ADD COLUMN route text NULL;
