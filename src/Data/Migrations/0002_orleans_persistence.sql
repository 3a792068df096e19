-- Orleans grain state (ADO.NET grain storage) on PostgreSQL, written for InvexQR.
--
-- Microsoft.Orleans.Persistence.AdoNet 10.4.x reads WriteToStorageKey, ReadFromStorageKey and
-- ClearStorageKey from OrleansQuery (created by 0001) when a storage provider starts, plus
-- DeleteStorageKey, which it needs only when configured with DeleteStateOnClear = true.
--
-- Every query gets the grain's identity: @GrainIdHash @GrainIdN0 @GrainIdN1 @GrainTypeHash
-- @GrainTypeString @GrainIdExtensionString (NULL for keys without a string part) @ServiceId.
-- Writes and clears also get @GrainStateVersion (the grain's etag; NULL = "I saw no state"),
-- writes get @PayloadBinary. Result columns are read by name (case-insensitively) or position.
--
-- Optimistic concurrency: Version is the etag. A write or clear presenting any version other than
-- the stored one (or NULL while a row exists) changes nothing and answers a NULL version; the
-- provider turns that into InconsistentStateException.
--
-- A row is found by its full identity, which is unique here; the two hashes the provider computes
-- are stored for reference only, so no hash collision or hasher change can mix grains up.

CREATE TABLE OrleansStorage (
    GrainIdHash            integer     NOT NULL,
    GrainIdN0              bigint      NOT NULL,
    GrainIdN1              bigint      NOT NULL,
    GrainTypeHash          integer     NOT NULL,
    GrainTypeString        text        NOT NULL,
    GrainIdExtensionString text        NULL,
    ServiceId              text        NOT NULL,
    PayloadBinary          bytea       NULL,      -- NULL after a clear that keeps the row
    ModifiedOn             timestamptz NOT NULL DEFAULT now(),
    Version                integer     NOT NULL
);

-- One row per grain identity. NULL and '' extension strings are different identities, hence
-- the pair of expressions (an index treats NULLs as distinct, and COALESCE alone would merge them).
-- The lookups below repeat these expressions so they can use this index.
CREATE UNIQUE INDEX orleansstorage_grain_key ON OrleansStorage (
    ServiceId, GrainTypeString, GrainIdN0, GrainIdN1,
    (GrainIdExtensionString IS NULL), COALESCE(GrainIdExtensionString, ''));

-- Writes the state. First write (p_expected_version NULL): inserts version 1 unless the grain has
-- a row already. Later writes: only from the stored version, which goes up by one.
-- Returns the new version, or NULL when p_expected_version was stale.
CREATE FUNCTION invexqr_grain_state_write(
    p_grain_id_hash    integer,
    p_grain_id_n0      bigint,
    p_grain_id_n1      bigint,
    p_grain_type_hash  integer,
    p_grain_type       text,
    p_grain_id_ext     text,
    p_service_id       text,
    p_expected_version integer,
    p_payload          bytea)
RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
    new_version integer;
BEGIN
    IF p_expected_version IS NULL THEN
        INSERT INTO OrleansStorage
               (GrainIdHash, GrainIdN0, GrainIdN1, GrainTypeHash, GrainTypeString,
                GrainIdExtensionString, ServiceId, PayloadBinary, ModifiedOn, Version)
        VALUES (p_grain_id_hash, p_grain_id_n0, p_grain_id_n1, p_grain_type_hash, p_grain_type,
                p_grain_id_ext, p_service_id, p_payload, now(), 1)
        ON CONFLICT DO NOTHING
        RETURNING Version INTO new_version;
    ELSE
        UPDATE OrleansStorage
           SET PayloadBinary = p_payload,
               ModifiedOn = now(),
               Version = Version + 1
         WHERE ServiceId = p_service_id
           AND GrainTypeString = p_grain_type
           AND GrainIdN0 = p_grain_id_n0
           AND GrainIdN1 = p_grain_id_n1
           AND (GrainIdExtensionString IS NULL) = (p_grain_id_ext IS NULL)
           AND COALESCE(GrainIdExtensionString, '') = COALESCE(p_grain_id_ext, '')
           AND Version = p_expected_version
        RETURNING Version INTO new_version;
    END IF;
    RETURN new_version;
END;
$fn$;

-- Clears the state, only from the stored version. p_delete = false keeps the row with no payload
-- and the next version (so an older activation still holding the previous etag cannot write);
-- p_delete = true removes the row (the provider then forgets the etag; the next write starts
-- over at version 1). Returns a non-NULL value on success, NULL when p_expected_version was stale.
CREATE FUNCTION invexqr_grain_state_clear(
    p_grain_id_n0      bigint,
    p_grain_id_n1      bigint,
    p_grain_type       text,
    p_grain_id_ext     text,
    p_service_id       text,
    p_expected_version integer,
    p_delete           boolean)
RETURNS integer
LANGUAGE plpgsql
AS $fn$
DECLARE
    new_version integer;
BEGIN
    IF p_delete THEN
        DELETE FROM OrleansStorage
         WHERE ServiceId = p_service_id
           AND GrainTypeString = p_grain_type
           AND GrainIdN0 = p_grain_id_n0
           AND GrainIdN1 = p_grain_id_n1
           AND (GrainIdExtensionString IS NULL) = (p_grain_id_ext IS NULL)
           AND COALESCE(GrainIdExtensionString, '') = COALESCE(p_grain_id_ext, '')
           AND Version = p_expected_version
        RETURNING Version + 1 INTO new_version;
    ELSE
        UPDATE OrleansStorage
           SET PayloadBinary = NULL,
               ModifiedOn = now(),
               Version = Version + 1
         WHERE ServiceId = p_service_id
           AND GrainTypeString = p_grain_type
           AND GrainIdN0 = p_grain_id_n0
           AND GrainIdN1 = p_grain_id_n1
           AND (GrainIdExtensionString IS NULL) = (p_grain_id_ext IS NULL)
           AND COALESCE(GrainIdExtensionString, '') = COALESCE(p_grain_id_ext, '')
           AND Version = p_expected_version
        RETURNING Version INTO new_version;
    END IF;
    RETURN new_version;
END;
$fn$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- Identity parameters. Zero rows (no state) or one: PayloadBinary (NULL after a keeping clear) and
-- Version (the etag).
('ReadFromStorageKey', $sql$
SELECT PayloadBinary, Version
  FROM OrleansStorage
 WHERE ServiceId = @ServiceId::text
   AND GrainTypeString = @GrainTypeString::text
   AND GrainIdN0 = @GrainIdN0::bigint
   AND GrainIdN1 = @GrainIdN1::bigint
   AND (GrainIdExtensionString IS NULL) = (@GrainIdExtensionString::text IS NULL)
   AND COALESCE(GrainIdExtensionString, '') = COALESCE(@GrainIdExtensionString::text, '')
$sql$),

-- Identity parameters, @GrainStateVersion, @PayloadBinary. One row: NewGrainStateVersion.
('WriteToStorageKey', $sql$
SELECT invexqr_grain_state_write(
           @GrainIdHash::integer, @GrainIdN0::bigint, @GrainIdN1::bigint, @GrainTypeHash::integer,
           @GrainTypeString::text, @GrainIdExtensionString::text, @ServiceId::text,
           @GrainStateVersion::integer, @PayloadBinary::bytea) AS NewGrainStateVersion
$sql$),

-- Identity parameters, @GrainStateVersion. One row; the provider reads its first column.
('ClearStorageKey', $sql$
SELECT invexqr_grain_state_clear(
           @GrainIdN0::bigint, @GrainIdN1::bigint, @GrainTypeString::text,
           @GrainIdExtensionString::text, @ServiceId::text,
           @GrainStateVersion::integer, false) AS NewGrainStateVersion
$sql$),

-- As ClearStorageKey, used instead of it when DeleteStateOnClear = true.
('DeleteStorageKey', $sql$
SELECT invexqr_grain_state_clear(
           @GrainIdN0::bigint, @GrainIdN1::bigint, @GrainTypeString::text,
           @GrainIdExtensionString::text, @ServiceId::text,
           @GrainStateVersion::integer, true) AS NewGrainStateVersion
$sql$);
