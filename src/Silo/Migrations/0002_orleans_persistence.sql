-- Orleans ADO.NET grain storage on PostgreSQL, written for InvexQR.
--
-- Microsoft.Orleans.Persistence.AdoNet (10.4.x) reads WriteToStorageKey, ReadFromStorageKey and
-- ClearStorageKey (and DeleteStorageKey where configured to delete on clear) from OrleansQuery.
-- A grain's row is found by hashes plus the full identity (hashes may collide). Version is the
-- etag: a write or clear must present the version it read, and answers with exactly one row —
-- the new version, or NULL when the presented version was stale (the provider then throws
-- InconsistentStateException).

CREATE TABLE OrleansStorage (
    GrainIdHash            integer      NOT NULL,
    GrainIdN0              bigint       NOT NULL,
    GrainIdN1              bigint       NOT NULL,
    GrainTypeHash          integer      NOT NULL,
    GrainTypeString        varchar(512) NOT NULL,
    GrainIdExtensionString varchar(512) NULL,
    ServiceId              varchar(150) NOT NULL,
    PayloadBinary          bytea        NULL,
    ModifiedOn             timestamptz  NOT NULL DEFAULT now(),
    Version                integer      NULL
);

CREATE INDEX orleansstorage_lookup ON OrleansStorage (GrainIdHash, GrainTypeHash);

-- At most one row per grain identity (NULL extension strings compare equal here).
CREATE UNIQUE INDEX orleansstorage_identity ON OrleansStorage
    (GrainIdHash, GrainTypeHash, GrainIdN0, GrainIdN1, GrainTypeString, COALESCE(GrainIdExtensionString, ''), ServiceId);

CREATE FUNCTION invexqr_orleans_write_state(
    p_grain_id_hash integer, p_grain_id_n0 bigint, p_grain_id_n1 bigint, p_grain_type_hash integer,
    p_grain_type varchar, p_grain_id_extension varchar, p_service_id varchar,
    p_expected_version integer, p_payload bytea)
RETURNS integer LANGUAGE plpgsql AS $body$
DECLARE
    new_version integer;
BEGIN
    IF p_expected_version IS NULL THEN
        -- First write of this grain: only if nobody else wrote it meanwhile.
        INSERT INTO OrleansStorage
            (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString, GrainIdExtensionString,
             ServiceId, PayloadBinary, ModifiedOn, Version)
        VALUES
            (p_grain_id_hash, p_grain_id_n0, p_grain_id_n1, p_grain_type_hash, p_grain_type, p_grain_id_extension,
             p_service_id, p_payload, now(), 1)
        ON CONFLICT DO NOTHING
        RETURNING Version INTO new_version;
        RETURN new_version;
    END IF;

    UPDATE OrleansStorage
       SET PayloadBinary = p_payload, ModifiedOn = now(), Version = Version + 1
     WHERE GrainIdHash = p_grain_id_hash AND GrainTypeHash = p_grain_type_hash
       AND GrainIdN0 = p_grain_id_n0 AND GrainIdN1 = p_grain_id_n1
       AND GrainTypeString = p_grain_type
       AND COALESCE(GrainIdExtensionString, '') = COALESCE(p_grain_id_extension, '')
       AND ServiceId = p_service_id
       AND Version = p_expected_version
    RETURNING Version INTO new_version;
    RETURN new_version;
END;
$body$;

-- Clearing keeps the row (with no payload) so the version keeps counting: a grain that cleared
-- its state and an old activation that still holds the previous version can't both write.
CREATE FUNCTION invexqr_orleans_clear_state(
    p_grain_id_hash integer, p_grain_id_n0 bigint, p_grain_id_n1 bigint, p_grain_type_hash integer,
    p_grain_type varchar, p_grain_id_extension varchar, p_service_id varchar,
    p_expected_version integer, p_delete boolean)
RETURNS integer LANGUAGE plpgsql AS $body$
DECLARE
    new_version integer;
BEGIN
    IF p_delete THEN
        DELETE FROM OrleansStorage
         WHERE GrainIdHash = p_grain_id_hash AND GrainTypeHash = p_grain_type_hash
           AND GrainIdN0 = p_grain_id_n0 AND GrainIdN1 = p_grain_id_n1
           AND GrainTypeString = p_grain_type
           AND COALESCE(GrainIdExtensionString, '') = COALESCE(p_grain_id_extension, '')
           AND ServiceId = p_service_id
           AND Version = p_expected_version
        RETURNING Version + 1 INTO new_version;
        RETURN new_version;
    END IF;

    UPDATE OrleansStorage
       SET PayloadBinary = NULL, ModifiedOn = now(), Version = Version + 1
     WHERE GrainIdHash = p_grain_id_hash AND GrainTypeHash = p_grain_type_hash
       AND GrainIdN0 = p_grain_id_n0 AND GrainIdN1 = p_grain_id_n1
       AND GrainTypeString = p_grain_type
       AND COALESCE(GrainIdExtensionString, '') = COALESCE(p_grain_id_extension, '')
       AND ServiceId = p_service_id
       AND Version = p_expected_version
    RETURNING Version INTO new_version;
    RETURN new_version;
END;
$body$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
('ReadFromStorageKey', $q$
    SELECT PayloadBinary, Version
      FROM OrleansStorage
     WHERE GrainIdHash = @GrainIdHash::integer AND GrainTypeHash = @GrainTypeHash::integer
       AND GrainIdN0 = @GrainIdN0::bigint AND GrainIdN1 = @GrainIdN1::bigint
       AND GrainTypeString = @GrainTypeString::varchar
       AND COALESCE(GrainIdExtensionString, '') = COALESCE(@GrainIdExtensionString::varchar, '')
       AND ServiceId = @ServiceId::varchar
$q$),

('WriteToStorageKey', $q$
    SELECT invexqr_orleans_write_state(
        @GrainIdHash::integer, @GrainIdN0::bigint, @GrainIdN1::bigint, @GrainTypeHash::integer,
        @GrainTypeString::varchar, @GrainIdExtensionString::varchar, @ServiceId::varchar,
        @GrainStateVersion::integer, @PayloadBinary::bytea) AS NewGrainStateVersion
$q$),

('ClearStorageKey', $q$
    SELECT invexqr_orleans_clear_state(
        @GrainIdHash::integer, @GrainIdN0::bigint, @GrainIdN1::bigint, @GrainTypeHash::integer,
        @GrainTypeString::varchar, @GrainIdExtensionString::varchar, @ServiceId::varchar,
        @GrainStateVersion::integer, false) AS NewGrainStateVersion
$q$),

('DeleteStorageKey', $q$
    SELECT invexqr_orleans_clear_state(
        @GrainIdHash::integer, @GrainIdN0::bigint, @GrainIdN1::bigint, @GrainTypeHash::integer,
        @GrainTypeString::varchar, @GrainIdExtensionString::varchar, @ServiceId::varchar,
        @GrainStateVersion::integer, true) AS NewGrainStateVersion
$q$);
