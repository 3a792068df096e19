-- Orleans membership (clustering) on PostgreSQL, written for InvexQR.
--
-- Microsoft.Orleans.Clustering.AdoNet 10.4.x keeps no SQL of its own: at start-up it runs
--     SELECT QueryKey, QueryText FROM OrleansQuery
-- and refuses to start unless every key it needs is there (CleanupDefunctSiloEntryKey is optional
-- for the provider; we ship it, so dead silos are pruned one exact row at a time). Silos use all
-- the keys below; clients (the gateway list provider) use GatewaysQueryKey only.
--
-- How the provider talks to this text:
--   * parameters are bound by name (@DeploymentId, @Address, ...) and typed by the provider
--     (strings as text, ints as integer, DateTime in UTC); the casts below only document them;
--   * result columns are read by name, case-insensitively, so PostgreSQL's lower-case folding of
--     unquoted identifiers is fine. All identifiers here are unquoted on purpose: the provider's
--     own bootstrap query names OrleansQuery unquoted;
--   * conditional writes answer one row with one boolean column: true = written.
--
-- Concurrency: OrleansMembershipVersionTable.Version is the etag of a cluster's whole membership.
-- Inserting or updating a silo row must present the current version and bumps it, in one step.

CREATE TABLE OrleansQuery (
    QueryKey  varchar(64) NOT NULL,
    QueryText text        NOT NULL,
    CONSTRAINT orleansquery_pkey PRIMARY KEY (QueryKey)
);

-- One row per cluster ("DeploymentId" is Orleans' ClusterId).
CREATE TABLE OrleansMembershipVersionTable (
    DeploymentId text        NOT NULL,
    Timestamp    timestamptz NOT NULL DEFAULT now(),
    Version      integer     NOT NULL DEFAULT 0,
    CONSTRAINT orleansmembershipversiontable_pkey PRIMARY KEY (DeploymentId)
);

-- One row per silo incarnation. Status holds Orleans' SiloStatus (3 = Active, 6 = Dead).
-- SuspectTimes is the provider's own text ("silo,time|silo,time"), stored verbatim.
-- ProxyPort, SiloName and HostName are NOT NULL because the provider cannot read a NULL back.
CREATE TABLE OrleansMembershipTable (
    DeploymentId text        NOT NULL,
    Address      text        NOT NULL,
    Port         integer     NOT NULL,
    Generation   integer     NOT NULL,
    SiloName     text        NOT NULL,
    HostName     text        NOT NULL,
    Status       integer     NOT NULL,
    ProxyPort    integer     NOT NULL DEFAULT 0,
    SuspectTimes text        NULL,
    StartTime    timestamptz NOT NULL,
    IAmAliveTime timestamptz NOT NULL,
    CONSTRAINT orleansmembershiptable_pkey PRIMARY KEY (DeploymentId, Address, Port, Generation),
    CONSTRAINT orleansmembershiptable_cluster_fkey FOREIGN KEY (DeploymentId)
        REFERENCES OrleansMembershipVersionTable (DeploymentId)
);

-- Adds a silo row and bumps the cluster version from p_expected_version: both, or neither.
-- False when the version moved on or the silo row exists already.
CREATE FUNCTION invexqr_membership_add_silo(
    p_deployment_id    text,
    p_address          text,
    p_port             integer,
    p_generation       integer,
    p_silo_name        text,
    p_host_name        text,
    p_status           integer,
    p_proxy_port       integer,
    p_start_time       timestamptz,
    p_i_am_alive_time  timestamptz,
    p_expected_version integer)
RETURNS boolean
LANGUAGE plpgsql
AS $fn$
BEGIN
    -- Taking the version row's lock first serialises writers; whoever waited re-reads the
    -- version afterwards and finds it changed.
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1,
           Timestamp = now()
     WHERE DeploymentId = p_deployment_id
       AND Version = p_expected_version;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    INSERT INTO OrleansMembershipTable
           (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort,
            SuspectTimes, StartTime, IAmAliveTime)
    VALUES (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name, p_status,
            COALESCE(p_proxy_port, 0), NULL, p_start_time, p_i_am_alive_time);
    RETURN true;
EXCEPTION
    WHEN unique_violation THEN
        -- Leaving through the handler undoes this block, version bump included.
        RETURN false;
END;
$fn$;

-- Updates a silo row and bumps the cluster version from p_expected_version: both, or neither.
-- False when the version moved on or there is no such silo row. IAmAliveTime never goes back.
CREATE FUNCTION invexqr_membership_change_silo(
    p_deployment_id    text,
    p_address          text,
    p_port             integer,
    p_generation       integer,
    p_status           integer,
    p_suspect_times    text,
    p_i_am_alive_time  timestamptz,
    p_expected_version integer)
RETURNS boolean
LANGUAGE plpgsql
AS $fn$
BEGIN
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1,
           Timestamp = now()
     WHERE DeploymentId = p_deployment_id
       AND Version = p_expected_version;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE OrleansMembershipTable
       SET Status = p_status,
           SuspectTimes = p_suspect_times,
           IAmAliveTime = GREATEST(IAmAliveTime, p_i_am_alive_time)
     WHERE DeploymentId = p_deployment_id
       AND Address = p_address
       AND Port = p_port
       AND Generation = p_generation;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = 'invexqr: no such silo row';
    END IF;
    RETURN true;
EXCEPTION
    WHEN no_data_found THEN
        -- Leaving through the handler undoes this block, version bump included.
        RETURN false;
END;
$fn$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES

-- @DeploymentId. Creates the cluster's version row when missing.
-- One row, one boolean: true when this call created it.
('InsertMembershipVersionKey', $sql$
WITH created AS (
    INSERT INTO OrleansMembershipVersionTable (DeploymentId)
    VALUES (@DeploymentId::text)
    ON CONFLICT (DeploymentId) DO NOTHING
    RETURNING DeploymentId
)
SELECT EXISTS (SELECT 1 FROM created) AS Created
$sql$),

-- @DeploymentId @Address @Port @Generation @IAmAliveTime. No result is read.
('UpdateIAmAlivetimeKey', $sql$
UPDATE OrleansMembershipTable
   SET IAmAliveTime = GREATEST(IAmAliveTime, @IAmAliveTime::timestamptz)
 WHERE DeploymentId = @DeploymentId::text
   AND Address = @Address::text
   AND Port = @Port::integer
   AND Generation = @Generation::integer
$sql$),

-- @DeploymentId @Address @Port @Generation @SiloName @HostName @Status @ProxyPort @StartTime
-- @IAmAliveTime @Version (the expected table version). One row, one boolean.
('InsertMembershipKey', $sql$
SELECT invexqr_membership_add_silo(
           @DeploymentId::text, @Address::text, @Port::integer, @Generation::integer,
           @SiloName::text, @HostName::text, @Status::integer, @ProxyPort::integer,
           @StartTime::timestamptz, @IAmAliveTime::timestamptz, @Version::integer) AS Inserted
$sql$),

-- @DeploymentId @Address @Port @Generation @IAmAliveTime @Status @SuspectTimes (NULL when none)
-- @Version (the expected table version). One row, one boolean.
('UpdateMembershipKey', $sql$
SELECT invexqr_membership_change_silo(
           @DeploymentId::text, @Address::text, @Port::integer, @Generation::integer,
           @Status::integer, @SuspectTimes::text, @IAmAliveTime::timestamptz,
           @Version::integer) AS Updated
$sql$),

-- @DeploymentId @Address @Port @Generation. Always the version row (the provider reads Version
-- from the first row), joined with the silo's row when there is one (NULL columns otherwise).
('MembershipReadRowKey', $sql$
SELECT v.DeploymentId,
       m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
       m.SuspectTimes, m.StartTime, m.IAmAliveTime,
       v.Version
  FROM OrleansMembershipVersionTable AS v
  LEFT JOIN OrleansMembershipTable AS m
         ON m.DeploymentId = v.DeploymentId
        AND m.Address = @Address::text
        AND m.Port = @Port::integer
        AND m.Generation = @Generation::integer
 WHERE v.DeploymentId = @DeploymentId::text
$sql$),

-- @DeploymentId. As above, for every silo of the cluster.
('MembershipReadAllKey', $sql$
SELECT v.DeploymentId,
       m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort,
       m.SuspectTimes, m.StartTime, m.IAmAliveTime,
       v.Version
  FROM OrleansMembershipVersionTable AS v
  LEFT JOIN OrleansMembershipTable AS m
         ON m.DeploymentId = v.DeploymentId
 WHERE v.DeploymentId = @DeploymentId::text
$sql$),

-- @DeploymentId @Status (always 3, Active). Used by clients to find gateways.
('GatewaysQueryKey', $sql$
SELECT Address, ProxyPort, Generation
  FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId::text
   AND Status = @Status::integer
   AND ProxyPort > 0
$sql$),

-- @DeploymentId. Forgets the whole cluster. No result is read.
('DeleteMembershipTableEntriesKey', $sql$
DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId::text;
DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId::text
$sql$),

-- @DeploymentId @IAmAliveTime (the cut-off, UTC). Required to exist, but 10.4 only runs it when
-- CleanupDefunctSiloEntryKey is missing: bulk removal of dead silos (6) that neither started,
-- heartbeated nor were suspected since the cut-off (rows with any suspicion are left alone).
('CleanupDefunctSiloEntriesKey', $sql$
DELETE FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId::text
   AND Status = 6
   AND StartTime < @IAmAliveTime::timestamptz
   AND IAmAliveTime < @IAmAliveTime::timestamptz
   AND COALESCE(SuspectTimes, '') = ''
$sql$),

-- @DeploymentId @Address @Port @Generation @SuspectTimes @StartTime @IAmAliveTime. The provider
-- picks the defunct rows itself (from MembershipReadAllKey) and sends each one back exactly as it
-- read it: the row goes only if it is still dead and unchanged. No result is read.
('CleanupDefunctSiloEntryKey', $sql$
DELETE FROM OrleansMembershipTable
 WHERE DeploymentId = @DeploymentId::text
   AND Address = @Address::text
   AND Port = @Port::integer
   AND Generation = @Generation::integer
   AND Status = 6
   AND StartTime = @StartTime::timestamptz
   AND IAmAliveTime = @IAmAliveTime::timestamptz
   AND COALESCE(SuspectTimes, '') = COALESCE(@SuspectTimes::text, '')
$sql$);
