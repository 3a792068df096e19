using InvexQr.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>An endpoint as its owner sees it (never the secret, except once at creation).</summary>
public sealed record WebhookEndpoint(
    long Id, string Url, IReadOnlyList<string> Events, IReadOnlyList<string>? Codes, IReadOnlyList<string>? Tags,
    string Status, string? DisabledReason, int ConsecutiveFailures, DateTimeOffset? FailingSince, DateTimeOffset NextAttemptAt,
    long PendingEvents, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>One attempt to deliver a batch of events.</summary>
public sealed record WebhookDeliveryInfo(
    Guid Id, DateTimeOffset AttemptedAt, bool Succeeded, int? ResponseCode, int LatencyMs, int EventCount, string? Error);

/// <summary>The fields of an endpoint an owner sets; null leaves a field as it is (on update).</summary>
public sealed record WebhookEndpointChange(
    string? Url, IReadOnlyList<string>? Events, IReadOnlyList<string>? Codes, bool ClearCodes, IReadOnlyList<string>? Tags, bool ClearTags, bool? Enabled);

/// <summary>All SQL behind <c>/api/webhooks</c>: an owner's endpoints, their recent deliveries, replays.</summary>
public sealed class WebhookRepository(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "e.id, e.url, e.events, e.filter_codes, e.filter_tags, e.status, e.disabled_reason, e.consecutive_failures, e.failing_since, " +
        "e.next_attempt_at, (SELECT coalesce(sum(o.event_count), 0) FROM webhook_outbox o WHERE o.endpoint_id = e.id), e.created_at, e.updated_at";

    public async Task<int> CountAsync(long ownerId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM webhook_endpoints WHERE owner_id = $1");
        command.Parameters.Add(new() { Value = ownerId });
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
    }

    /// <summary>The codes among <paramref name="codes"/> that are not the owner's (or do not exist).</summary>
    public async Task<IReadOnlyList<string>> UnknownCodesAsync(long ownerId, IReadOnlyList<string> codes, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT x FROM unnest($2::text[]) x WHERE NOT EXISTS (SELECT 1 FROM qr_codes c WHERE c.owner_id = $1 AND c.code = x)");
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = codes.ToArray() });
        var unknown = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            unknown.Add(reader.GetString(0));
        }

        return unknown;
    }

    /// <summary>Registers an endpoint; throws <see cref="OwnerErasingException"/> while the owner is being erased.</summary>
    public async Task<WebhookEndpoint> CreateAsync(
        long ownerId, string url, IReadOnlyList<string> events, IReadOnlyList<string>? codes, IReadOnlyList<string>? tags, string secret,
        CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH e AS (INSERT INTO webhook_endpoints (owner_id, url, events, filter_codes, filter_tags, secret)
                       SELECT $1, $2, $3, $4, $5, $6
                        WHERE NOT EXISTS (SELECT 1 FROM owners o WHERE o.id = $1 AND o.erasing_since IS NOT NULL)
                       RETURNING *)
            SELECT {Columns} FROM e
            """);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = url });
        command.Parameters.Add(new() { Value = events.ToArray() });
        command.Parameters.Add(TextArray(codes));
        command.Parameters.Add(TextArray(tags));
        command.Parameters.Add(new() { Value = secret });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault() ?? throw new OwnerErasingException();
    }

    public async Task<IReadOnlyList<WebhookEndpoint>> ListAsync(long ownerId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM webhook_endpoints e WHERE e.owner_id = $1 ORDER BY e.id");
        command.Parameters.Add(new() { Value = ownerId });
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<WebhookEndpoint?> GetAsync(long ownerId, long id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM webhook_endpoints e WHERE e.owner_id = $1 AND e.id = $2");
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = id });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>Applies the change; enabling a disabled endpoint clears its failures and retries what waits at once. Null when not the owner's.</summary>
    public async Task<WebhookEndpoint?> UpdateAsync(long ownerId, long id, WebhookEndpointChange change, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            WITH e AS (
                UPDATE webhook_endpoints
                   SET url = COALESCE($3, url),
                       events = COALESCE($4, events),
                       filter_codes = CASE WHEN $6 THEN NULL ELSE COALESCE($5, filter_codes) END,
                       filter_tags = CASE WHEN $8 THEN NULL ELSE COALESCE($7, filter_tags) END,
                       status = CASE WHEN $9 IS NULL THEN status WHEN $9 THEN 'active' ELSE 'disabled' END,
                       disabled_reason = CASE WHEN $9 IS NULL THEN disabled_reason WHEN $9 THEN NULL ELSE 'disabled by the owner' END,
                       consecutive_failures = CASE WHEN $9 AND status = 'disabled' THEN 0 ELSE consecutive_failures END,
                       failing_since = CASE WHEN $9 AND status = 'disabled' THEN NULL ELSE failing_since END,
                       next_attempt_at = CASE WHEN $9 AND status = 'disabled' THEN now() ELSE next_attempt_at END,
                       updated_at = now()
                 WHERE owner_id = $1 AND id = $2
                RETURNING *)
            SELECT {Columns} FROM e
            """);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = id });
        command.Parameters.Add(new() { Value = (object?)change.Url ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(TextArray(change.Events));
        command.Parameters.Add(TextArray(change.Codes));
        command.Parameters.Add(new() { Value = change.ClearCodes });
        command.Parameters.Add(TextArray(change.Tags));
        command.Parameters.Add(new() { Value = change.ClearTags });
        command.Parameters.Add(new() { Value = (object?)change.Enabled ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Boolean });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>Deletes the endpoint with the events still waiting for it and its delivery log.</summary>
    public async Task<bool> DeleteAsync(long ownerId, long id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM webhook_endpoints WHERE owner_id = $1 AND id = $2");
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = id });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<IReadOnlyList<WebhookDeliveryInfo>> DeliveriesAsync(long ownerId, long endpointId, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT d.id, d.attempted_at, d.succeeded, d.response_code, d.latency_ms, d.event_count, d.error
              FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE e.owner_id = $1 AND d.endpoint_id = $2
             ORDER BY d.attempted_at DESC LIMIT $3
            """);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = endpointId });
        command.Parameters.Add(new() { Value = limit });
        var deliveries = new List<WebhookDeliveryInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            deliveries.Add(new WebhookDeliveryInfo(
                reader.GetGuid(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetBoolean(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return deliveries;
    }

    /// <summary>
    /// Queues the events of a past delivery again (same event ids, so receivers that de-duplicate see them once) and lets the
    /// endpoint be tried at once. Events of codes deleted since are not sent again, except their code.deleted.
    /// Null when there is no such delivery of the owner's; otherwise the number of events queued.
    /// </summary>
    public async Task<int?> ReplayAsync(long ownerId, long endpointId, Guid deliveryId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var exists = new NpgsqlCommand("""
            SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE e.owner_id = $1 AND d.endpoint_id = $2 AND d.id = $3
               FOR KEY SHARE OF e
            """, connection, transaction))
        {
            exists.Parameters.Add(new() { Value = ownerId });
            exists.Parameters.Add(new() { Value = endpointId });
            exists.Parameters.Add(new() { Value = deliveryId });
            if (await exists.ExecuteScalarAsync(cancellationToken) is null)
            {
                return null;
            }
        }

        await using var replay = new NpgsqlCommand("""
            WITH queued AS (
                INSERT INTO webhook_outbox (endpoint_id, event_id, event_type, qr_code_id, occurred_at, payload)
                SELECT d.endpoint_id, x.id, x.type, COALESCE(c.id, 0), x.at, x.data -- a scan's data: from its row again
                  FROM webhook_deliveries d
                 CROSS JOIN LATERAL unnest(d.event_ids, d.event_types, d.event_codes, d.event_times, d.event_data)
                       WITH ORDINALITY AS x(id, type, code, at, data, n)
                  LEFT JOIN qr_codes c ON c.id = x.code
                 WHERE d.id = $1 AND (c.id IS NOT NULL OR x.type = 'code.deleted')
                 ORDER BY x.n
                RETURNING 1),
            retry AS (UPDATE webhook_endpoints SET next_attempt_at = now() WHERE id = $2)
            SELECT count(*) FROM queued
            """, connection, transaction);
        replay.Parameters.Add(new() { Value = deliveryId });
        replay.Parameters.Add(new() { Value = endpointId });
        var count = Convert.ToInt32(await replay.ExecuteScalarAsync(cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    private static NpgsqlParameter TextArray(IReadOnlyList<string>? values) =>
        new() { Value = (object?)values?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    private static async Task<List<WebhookEndpoint>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var list = new List<WebhookEndpoint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new WebhookEndpoint(
                reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<string[]>(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<string[]>(3), reader.IsDBNull(4) ? null : reader.GetFieldValue<string[]>(4),
                reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetInt32(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<DateTimeOffset>(9),
                reader.GetInt64(10), reader.GetFieldValue<DateTimeOffset>(11), reader.GetFieldValue<DateTimeOffset>(12)));
        }

        return list;
    }
}
