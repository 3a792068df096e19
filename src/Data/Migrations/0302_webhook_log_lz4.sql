-- Each delivery logs the references of the events it sent (~48 KB of JSON for 500 scans), compressed into TOAST as it is
-- written: with PostgreSQL's default pglz that compression was 9 % of the database's CPU while delivering. lz4 does the
-- same several times faster. Servers built without lz4 keep pglz.
DO $$
BEGIN
    ALTER TABLE webhook_deliveries ALTER COLUMN events SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server: webhook_deliveries.events stays compressed with pglz';
END $$;
