-- Orleans ADO.NET clustering on PostgreSQL, written for InvexQR.
--
-- Microsoft.Orleans.Clustering.AdoNet (10.4.x) reads its SQL from the OrleansQuery table at start-up:
-- one row per query key, with parameters bound by name (@DeploymentId, @Address, ...) and result
-- columns read by name. Every parameter is cast explicitly below: Npgsql sends NULLs untyped and
-- PostgreSQL must know each parameter's type. Write queries answer with one boolean row: true when
-- the conditional write (the table version acting as an optimistic-concurrency token) happened.

CREATE TABLE OrleansQuery (
    QueryKey  varchar(64) NOT NULL PRIMARY KEY,
    QueryText text        NOT NULL
);

-- One row per cluster (Orleans calls it DeploymentId; it is our ClusterId). Version is the etag of
-- the whole membership table: every membership insert or update must present the current value.
CREATE TABLE OrleansMembershipVersionTable (
    DeploymentId varchar(150) NOT NULL PRIMARY KEY,
    Timestamp    timestamptz  NOT NULL DEFAULT now(),
    Version      integer      NOT NULL DEFAULT 0
);

-- One row per silo incarnation (address, port, generation).
CREATE TABLE OrleansMembershipTable (
    DeploymentId varchar(150)  NOT NULL REFERENCES OrleansMembershipVersionTable (DeploymentId),
    Address      varchar(45)   NOT NULL,
    Port         integer       NOT NULL,
    Generation   integer       NOT NULL,
    SiloName     varchar(150)  NOT NULL,
    HostName     varchar(150)  NOT NULL,
    Status       integer       NOT NULL,
    ProxyPort    integer       NULL,
    SuspectTimes varchar(8000) NULL,
    StartTime    timestamptz   NOT NULL,
    IAmAliveTime timestamptz   NOT NULL,
    PRIMARY KEY (DeploymentId, Address, Port, Generation)
);

-- Bumps the table version from p_expected_version and inserts the silo's row: both or neither.
CREATE FUNCTION invexqr_orleans_insert_member(
    p_deployment_id varchar, p_address varchar, p_port integer, p_generation integer, p_expected_version integer,
    p_silo_name varchar, p_host_name varchar, p_status integer, p_proxy_port integer,
    p_start_time timestamptz, p_i_am_alive_time timestamptz, p_suspect_times varchar)
RETURNS boolean LANGUAGE plpgsql AS $body$
BEGIN
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = p_deployment_id AND Version = p_expected_version;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    INSERT INTO OrleansMembershipTable
        (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort,
         SuspectTimes, StartTime, IAmAliveTime)
    VALUES
        (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name, p_status, p_proxy_port,
         p_suspect_times, p_start_time, p_i_am_alive_time);
    RETURN true;
EXCEPTION WHEN unique_violation THEN
    -- The silo's row exists already. Leaving through the handler rolls back the version bump too.
    RETURN false;
END;
$body$;

-- Bumps the table version from p_expected_version and updates the silo's row: both or neither.
CREATE FUNCTION invexqr_orleans_update_member(
    p_deployment_id varchar, p_address varchar, p_port integer, p_generation integer, p_expected_version integer,
    p_status integer, p_suspect_times varchar, p_i_am_alive_time timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $body$
BEGIN
    UPDATE OrleansMembershipVersionTable
       SET Version = Version + 1, Timestamp = now()
     WHERE DeploymentId = p_deployment_id AND Version = p_expected_version;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE OrleansMembershipTable
       SET Status = p_status, SuspectTimes = p_suspect_times, IAmAliveTime = p_i_am_alive_time
     WHERE DeploymentId = p_deployment_id AND Address = p_address AND Port = p_port AND Generation = p_generation;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = 'invexqr: no such member';
    END IF;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'P0002' THEN
    -- No such silo row: leaving through the handler rolls back the version bump too.
    RETURN false;
END;
$body$;

INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES
-- Always one row: true when this call created the cluster's version row.
('InsertMembershipVersionKey', $q$
    WITH created AS (
        INSERT INTO OrleansMembershipVersionTable (DeploymentId)
        VALUES (@DeploymentId::varchar)
        ON CONFLICT (DeploymentId) DO NOTHING
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM created)
$q$),

('UpdateIAmAlivetimeKey', $q$
    UPDATE OrleansMembershipTable
       SET IAmAliveTime = @IAmAliveTime::timestamptz
     WHERE DeploymentId = @DeploymentId::varchar
       AND Address = @Address::varchar AND Port = @Port::integer AND Generation = @Generation::integer
$q$),

('InsertMembershipKey', $q$
    SELECT invexqr_orleans_insert_member(
        @DeploymentId::varchar, @Address::varchar, @Port::integer, @Generation::integer, @Version::integer,
        @SiloName::varchar, @HostName::varchar, @Status::integer, @ProxyPort::integer,
        @StartTime::timestamptz, @IAmAliveTime::timestamptz, NULL::varchar)
$q$),

('UpdateMembershipKey', $q$
    SELECT invexqr_orleans_update_member(
        @DeploymentId::varchar, @Address::varchar, @Port::integer, @Generation::integer, @Version::integer,
        @Status::integer, @SuspectTimes::varchar, @IAmAliveTime::timestamptz)
$q$),

('MembershipReadRowKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status,
           m.ProxyPort, m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
      FROM OrleansMembershipVersionTable v
      LEFT JOIN OrleansMembershipTable m
        ON m.DeploymentId = v.DeploymentId
       AND m.Address = @Address::varchar AND m.Port = @Port::integer AND m.Generation = @Generation::integer
     WHERE v.DeploymentId = @DeploymentId::varchar
$q$),

('MembershipReadAllKey', $q$
    SELECT v.DeploymentId, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status,
           m.ProxyPort, m.SuspectTimes, m.StartTime, m.IAmAliveTime, v.Version
      FROM OrleansMembershipVersionTable v
      LEFT JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
     WHERE v.DeploymentId = @DeploymentId::varchar
$q$),

('GatewaysQueryKey', $q$
    SELECT Address, ProxyPort, Generation
      FROM OrleansMembershipTable
     WHERE DeploymentId = @DeploymentId::varchar AND Status = @Status::integer AND ProxyPort > 0
$q$),

('DeleteMembershipTableEntriesKey', $q$
    DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId::varchar;
    DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId::varchar
$q$),

-- Dead silos (status 6) not heard from since the given time, and not suspected by anyone.
('CleanupDefunctSiloEntriesKey', $q$
    DELETE FROM OrleansMembershipTable
     WHERE DeploymentId = @DeploymentId::varchar
       AND IAmAliveTime < @IAmAliveTime::timestamptz
       AND StartTime < @IAmAliveTime::timestamptz
       AND COALESCE(SuspectTimes, '') = ''
       AND Status = 6
$q$),

-- One dead silo's row, only if it is still exactly as the caller saw it.
('CleanupDefunctSiloEntryKey', $q$
    DELETE FROM OrleansMembershipTable
     WHERE DeploymentId = @DeploymentId::varchar AND Status = 6
       AND Address = @Address::varchar AND Port = @Port::integer AND Generation = @Generation::integer
       AND IAmAliveTime = @IAmAliveTime::timestamptz AND StartTime = @StartTime::timestamptz
       AND COALESCE(SuspectTimes, '') = COALESCE(@SuspectTimes::varchar, '')
$q$);
