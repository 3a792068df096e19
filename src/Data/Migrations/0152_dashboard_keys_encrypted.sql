-- Data-protection keys are now stored encrypted with a key derived from Auth:SessionSecret. The keys stored
-- before were plain XML that anyone reading this table could use to forge a session cookie: drop them (and so
-- the sessions they signed: owners sign in again once). Gateways create a new, encrypted key when they need one.
DELETE FROM dashboard_keys WHERE xml NOT LIKE '%<encryptedKey%';
