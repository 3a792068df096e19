using InvexQr.Abstractions;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Routing;
using Npgsql;

namespace InvexQr.Data;

/// <summary>All SQL on <c>qr_codes</c>.</summary>
public sealed class CodeRepository(NpgsqlDataSource dataSource) : ICodeRepository
{
    private const string TableColumns = "id, code, target_url, title, status, created_at, updated_at, owner_id, tags, expires_at, max_scans, throttle_burst, throttle_per_minute, routing";

    // The owner's fallback URL rides along with every row a grain loads (a scalar subquery also works in RETURNING).
    private const string Columns = TableColumns + ", (SELECT o.fallback_url FROM owners o WHERE o.id = owner_id)";

    private static string ColumnsOf(string alias) =>
        string.Join(", ", TableColumns.Split(", ").Select(c => $"{alias}.{c}")) + $", (SELECT o.fallback_url FROM owners o WHERE o.id = {alias}.owner_id)";

    public async Task<IReadOnlyDictionary<string, StoredCode>> LoadAsync(IReadOnlyCollection<string> codes, CancellationToken cancellationToken = default)
    {
        // One statement for any number of codes: their rows and lifetime totals (qr_code_totals, written by the rollup sinks).
        await using var command = dataSource.CreateCommand($"""
            SELECT {ColumnsOf("c")}, COALESCE(t.total_scans, 0), t.last_scan_at
              FROM qr_codes c LEFT JOIN qr_code_totals t ON t.qr_code_id = c.id
             WHERE c.code = ANY($1)
            """);
        command.Parameters.Add(new() { Value = codes as string[] ?? codes.ToArray() });
        var found = new Dictionary<string, StoredCode>(codes.Count, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var record = Read(reader);
            found[record.Code] = new StoredCode(record, reader.GetInt64(15), reader.IsDBNull(16) ? null : reader.GetFieldValue<DateTimeOffset>(16));
        }

        return found;
    }

    public async Task<CodeRecord?> InsertAsync(string code, CreateCodeCommand create, CancellationToken cancellationToken = default)
    {
        // Refused (null) when the slug is taken in any case, or was another owner's (qr_code_tombstones, migration 0151);
        // refused with OwnerErasingException while the owner is being erased (AccountsGrain.DeleteOwner).
        // The owner's webhooks get code.created in the same statement (WebhookOutboxSql).
        await using var command = dataSource.CreateCommand($"""
            WITH r AS (
                INSERT INTO qr_codes (code, target_url, title, owner_id, tags, expires_at, max_scans, throttle_burst, throttle_per_minute, routing)
                SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
                 WHERE NOT EXISTS (SELECT 1 FROM qr_code_tombstones t WHERE t.code_key = lower($1) AND t.owner_id IS DISTINCT FROM $4)
                   AND NOT EXISTS (SELECT 1 FROM owners o WHERE o.id = $4 AND o.erasing_since IS NOT NULL)
                ON CONFLICT DO NOTHING
                RETURNING {Columns}),
            {WebhookOutboxSql.QueueCodeEvent("ev", "r", "code.created")}
            SELECT {Columns} FROM r
            """);
        command.Parameters.Add(new() { Value = code });
        command.Parameters.Add(new() { Value = create.TargetUrl });
        command.Parameters.Add(new() { Value = (object?)create.Title ?? DBNull.Value });
        command.Parameters.Add(new() { Value = (object?)create.OwnerId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = (create.Tags ?? []).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)create.ExpiresAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = (object?)create.MaxScans ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = (object?)create.ThrottleBurst ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = (object?)create.ThrottlePerMinute ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = (object?)create.RoutingJson ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb });
        var inserted = await ReadSingleAsync(command, cancellationToken);
        if (inserted is null && create.OwnerId is { } ownerId)
        {
            await using var erasing = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM owners WHERE id = $1 AND erasing_since IS NOT NULL)");
            erasing.Parameters.Add(new() { Value = ownerId });
            if ((bool)(await erasing.ExecuteScalarAsync(cancellationToken))!)
            {
                throw new OwnerErasingException();
            }
        }

        return inserted;
    }

    public async Task<CodeRecord?> UpdateAsync(string code, UpdateCodeCommand update, CancellationToken cancellationToken = default)
    {
        // code.updated for the owner's webhooks in the same statement; a code brought back from expiry or exhaustion
        // may announce code.gone again later.
        await using var command = dataSource.CreateCommand($"""
            WITH r AS (
            UPDATE qr_codes
               SET target_url = COALESCE($2, target_url),
                   title      = COALESCE($3, title),
                   status     = COALESCE($4, status),
                   tags       = COALESCE($5, tags),
                   expires_at = CASE WHEN $7 THEN NULL ELSE COALESCE($6, expires_at) END,
                   max_scans  = CASE WHEN $9 THEN NULL ELSE COALESCE($8, max_scans) END,
                   throttle_burst      = COALESCE($10, throttle_burst),
                   throttle_per_minute = COALESCE($11, throttle_per_minute),
                   routing    = CASE WHEN $13 THEN NULL ELSE COALESCE($12, routing) END,
                   updated_at = now()
             WHERE code = $1
            RETURNING {Columns}),
            {WebhookOutboxSql.QueueCodeEvent("ev", "r", "code.updated")},
            revived AS (
                DELETE FROM webhook_gone_notices n USING r
                 WHERE n.qr_code_id = r.id AND (r.expires_at IS NULL OR r.expires_at > now())
                   AND (r.max_scans IS NULL OR r.max_scans > COALESCE((SELECT t.total_scans FROM qr_code_totals t WHERE t.qr_code_id = r.id), 0)))
            SELECT {Columns} FROM r
            """);
        command.Parameters.Add(new() { Value = code });
        command.Parameters.Add(new() { Value = (object?)update.TargetUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)update.Title ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var status = update.Enabled switch { true => "active", false => "disabled", null => null };
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)update.Tags?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)update.ExpiresAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = update.ClearExpiry });
        command.Parameters.Add(new() { Value = (object?)update.MaxScans ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = update.ClearMaxScans });
        command.Parameters.Add(new() { Value = (object?)update.ThrottleBurst ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = (object?)update.ThrottlePerMinute ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = (object?)update.RoutingJson ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb });
        command.Parameters.Add(new() { Value = update.ClearRouting });
        return await ReadSingleAsync(command, cancellationToken);
    }

    /// <summary>The tables that hold a code's scans and stats, in the order their writers lock them.</summary>
    private const string ChildTables = "qr_scans, qr_rollup_hourly, qr_code_totals, qr_rollup_dims_hourly, qr_rollup_dims_daily, qr_rollup_visitor_registers";

    /// <summary>
    /// Deletes a code with its scans and stats. The scan and rollup writers check that the code exists when they
    /// insert, without locking its row (a key-share lock per code per batch, tried, gave the full path about
    /// twice the p99 in two interleaved benchmark pairs), so a batch that checked just before the delete
    /// committed could land after it. So after the delete, the transaction takes a share lock on the child
    /// tables, which waits for every writer inserting into them to commit (and holds new ones until this
    /// commits, when they find the code gone), and deletes again with a fresh snapshot that sees their rows.
    /// Writers wait only for that second pass, not for the bulk delete.
    /// </summary>
    public async Task<bool> DeleteAsync(string code, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long id;
        long? owner; // null: a code of no owner (the admin key's, before owners existed)
        // code.deleted is queued for the owner's webhooks; the code's scan events still waiting in the outbox are taken
        // out of it below, with its last scans.
        await using (var delete = new NpgsqlCommand($"""
            WITH gone AS (DELETE FROM qr_codes WHERE code = $1 RETURNING *),
                 reserved AS (INSERT INTO qr_code_tombstones (code_key, owner_id) SELECT lower(code), owner_id FROM gone
                              ON CONFLICT (code_key) DO UPDATE SET owner_id = EXCLUDED.owner_id, deleted_at = now()),
                 {WebhookOutboxSql.QueueCodeEvent("announced", "gone", "code.deleted")},
                 scans AS (DELETE FROM qr_scans WHERE qr_code_id IN (SELECT id FROM gone)),
                 hourly AS (DELETE FROM qr_rollup_hourly WHERE qr_code_id IN (SELECT id FROM gone)),
                 totals AS (DELETE FROM qr_code_totals WHERE qr_code_id IN (SELECT id FROM gone)),
                 dims_h AS (DELETE FROM qr_rollup_dims_hourly WHERE qr_code_id IN (SELECT id FROM gone)),
                 dims_d AS (DELETE FROM qr_rollup_dims_daily WHERE qr_code_id IN (SELECT id FROM gone)),
                 uniques AS (DELETE FROM qr_rollup_visitor_registers WHERE qr_code_id IN (SELECT id FROM gone))
            SELECT id, owner_id FROM gone
            """, connection, transaction))
        {
            delete.Parameters.Add(new() { Value = code });
            await using var reader = await delete.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return false;
            }

            (id, owner) = (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetInt64(1));
        }

        await using (var wait = new NpgsqlCommand($"LOCK TABLE {ChildTables} IN SHARE MODE", connection, transaction))
        {
            await wait.ExecuteNonQueryAsync(cancellationToken);
        }

        // The code's scan events leave the outbox rows of its owner's endpoints (0303_webhook_outbox_scan_batches.sql):
        // rows holding other codes' scans too keep those, in order; rows of this code only go. Replayed events (a row
        // each, no data) are dropped by the delivery, which finds their scans gone.
        await using (var stragglers = new NpgsqlCommand("""
            WITH hooks AS (SELECT id FROM webhook_endpoints WHERE owner_id = $2),
                 kept AS (
                     SELECT x.endpoint_id, x.id, count(*)::int AS n,
                            array_agg(u.c ORDER BY u.k) AS codes, array_agg(u.t ORDER BY u.k) AS times,
                            array_agg(u.i ORDER BY u.k) AS ids, array_agg(u.d ORDER BY u.k) AS data
                       FROM webhook_outbox x
                      CROSS JOIN LATERAL unnest(x.scan_codes, x.scan_times, x.scan_ids, x.scan_data) WITH ORDINALITY AS u(c, t, i, d, k)
                      WHERE x.endpoint_id IN (SELECT id FROM hooks) AND x.scan_codes @> ARRAY[$1::bigint] AND u.c <> $1
                      GROUP BY x.endpoint_id, x.id),
                 shrunk AS (
                     UPDATE webhook_outbox o
                        SET scan_codes = k.codes, scan_times = k.times, scan_ids = k.ids, scan_data = k.data, event_count = k.n,
                            event_id = k.ids[1], qr_code_id = k.codes[1], occurred_at = k.times[1]
                       FROM kept k
                      WHERE o.endpoint_id = k.endpoint_id AND o.id = k.id),
                 emptied AS (
                     DELETE FROM webhook_outbox x
                      WHERE x.endpoint_id IN (SELECT id FROM hooks) AND x.scan_codes <@ ARRAY[$1::bigint]),
                 scans AS (DELETE FROM qr_scans WHERE qr_code_id = $1),
                 hourly AS (DELETE FROM qr_rollup_hourly WHERE qr_code_id = $1),
                 totals AS (DELETE FROM qr_code_totals WHERE qr_code_id = $1),
                 dims_h AS (DELETE FROM qr_rollup_dims_hourly WHERE qr_code_id = $1),
                 dims_d AS (DELETE FROM qr_rollup_dims_daily WHERE qr_code_id = $1)
            DELETE FROM qr_rollup_visitor_registers WHERE qr_code_id = $1
            """, connection, transaction))
        {
            stragglers.Parameters.Add(new() { Value = id });
            stragglers.Parameters.Add(new() { Value = (object?)owner ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
            await stragglers.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<CodePage> ListAsync(long ownerId, CodeListQuery query, CancellationToken cancellationToken = default)
    {
        // Keyset pagination on (created_at, id), either direction, served by qr_codes_owner_created.
        var (after, order) = query.OldestFirst ? (">", "ASC") : ("<", "DESC");
        await using var command = dataSource.CreateCommand($"""
            SELECT {TableColumns}, NULL FROM qr_codes
             WHERE owner_id = $1
               AND ($2::timestamptz IS NULL OR (created_at, id) {after} ($2::timestamptz, $3::bigint))
               AND ($4::text IS NULL OR code ILIKE $4 OR title ILIKE $4 OR target_url ILIKE $4)
               AND ($6::text IS NULL OR tags @> ARRAY[$6::text])
             ORDER BY created_at {order}, id {order}
             LIMIT $5
            """);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = (object?)query.AfterCreatedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = (object?)query.AfterId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        var pattern = string.IsNullOrEmpty(query.Search) ? null : "%" + EscapeLike(query.Search) + "%";
        command.Parameters.Add(new() { Value = (object?)pattern ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = query.Limit + 1 });
        command.Parameters.Add(new() { Value = (object?)query.Tag ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });

        var items = new List<CodeSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var record = Read(reader, compileRouting: false);
            items.Add(new CodeSummary(
                record.Id, record.Code, record.TargetUrl, record.Title, record.Status, record.CreatedAt, record.UpdatedAt,
                record.Tags, record.ExpiresAt, record.MaxScans));
        }

        var hasMore = items.Count > query.Limit;
        return new CodePage(hasMore ? items[..query.Limit] : items, hasMore);
    }

    private static string EscapeLike(string text) => text.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");

    private static async Task<CodeRecord?> ReadSingleAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static CodeRecord Read(NpgsqlDataReader reader, bool compileRouting = true)
    {
        var targetUrl = reader.GetString(2);
        return new CodeRecord(
            Id: reader.GetInt64(0),
            Code: reader.GetString(1),
            TargetUrl: targetUrl,
            Title: reader.IsDBNull(3) ? null : reader.GetString(3),
            Status: reader.GetString(4) == "disabled" ? CodeStatus.Disabled : CodeStatus.Active,
            CreatedAt: reader.GetFieldValue<DateTimeOffset>(5),
            UpdatedAt: reader.GetFieldValue<DateTimeOffset>(6),
            OwnerId: reader.IsDBNull(7) ? null : reader.GetInt64(7),
            Tags: reader.GetFieldValue<string[]>(8),
            ExpiresAt: reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
            MaxScans: reader.IsDBNull(10) ? null : reader.GetInt64(10),
            ThrottleBurst: reader.IsDBNull(11) ? null : reader.GetInt32(11),
            ThrottlePerMinute: reader.IsDBNull(12) ? null : reader.GetInt32(12),
            // Stored routing was validated when written; it is compiled once here, for the grain that loads it.
            Routing: !compileRouting || reader.IsDBNull(13) ? null : RoutingTable.Compile(RoutingRules.FromJson(reader.GetString(13)), targetUrl),
            OwnerFallbackUrl: reader.IsDBNull(14) ? null : reader.GetString(14));
    }
}
