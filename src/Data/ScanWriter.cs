using System.Buffers;
using System.Text.Json;
using InvexQr.Abstractions;
using InvexQr.Grains.Scans;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>
/// Writes batches of raw scans into <c>qr_scans</c>: binary COPY into a per-connection staging
/// table, then one <c>INSERT … ON CONFLICT DO NOTHING</c>, in one transaction. COPY alone is
/// fastest but cannot skip rows already present; the staging step makes a replayed batch (after
/// a commit whose outcome was lost with the connection) harmless instead of failing it.
/// </summary>
public sealed class ScanWriter(NpgsqlDataSource dataSource) : IAsyncDisposable
{
    private const string ColumnList =
        "id, qr_code_id, scanned_at, ip_address, user_agent, referer, " +
        "country_code, country, subdivision, city, latitude, longitude, device_type, os, browser, is_bot, is_repeat, visitor_hash, route";

    private readonly ArrayBufferWriter<byte> _eventData = new();
    private Utf8JsonWriter? _eventJson;
    private NpgsqlConnection? _connection;

    /// <summary>
    /// Whether some endpoint takes scan events, as of this writer's last batch (true before the first): only then does it
    /// write each scan's event data (<see cref="ScanPayload.WriteEventData"/>) into the stage. A batch written just after
    /// the first endpoint appeared has none; the delivery reads those scans' rows instead.
    /// </summary>
    private bool _describeScans = true;

    /// <summary>Writes the batch; returns the number of rows that were new.</summary>
    public async Task<int> WriteAsync(IReadOnlyList<ScanRecord> batch, CancellationToken cancellationToken)
    {
        try
        {
            var connection = await EnsureConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var staged = new HashSet<Guid>(batch.Count);
            await using (var importer = await connection.BeginBinaryImportAsync(
                $"COPY qr_scans_stage ({ColumnList}, event_data) FROM STDIN (FORMAT BINARY)", cancellationToken))
            {
                foreach (var scan in batch)
                {
                    if (!staged.Add(scan.Id))
                    {
                        continue; // the same scan twice in one batch (a replay): staged once, as WebhookOutboxSql joins on its id
                    }

                    await importer.StartRowAsync(cancellationToken);
                    await importer.WriteAsync(scan.Id, NpgsqlDbType.Uuid, cancellationToken);
                    await importer.WriteAsync(scan.CodeId, NpgsqlDbType.Bigint, cancellationToken);
                    await importer.WriteAsync(scan.ScannedAt, NpgsqlDbType.TimestampTz, cancellationToken);
                    await WriteTextAsync(importer, scan.IpAddress, cancellationToken);
                    await WriteTextAsync(importer, scan.UserAgent, cancellationToken);
                    await WriteTextAsync(importer, scan.Referer, cancellationToken);
                    await WriteTextAsync(importer, scan.Location?.CountryCode, cancellationToken);
                    await WriteTextAsync(importer, scan.Location?.CountryName, cancellationToken);
                    await WriteTextAsync(importer, scan.Location?.Subdivision, cancellationToken);
                    await WriteTextAsync(importer, scan.Location?.City, cancellationToken);
                    await WriteDoubleAsync(importer, scan.Location?.Latitude, cancellationToken);
                    await WriteDoubleAsync(importer, scan.Location?.Longitude, cancellationToken);
                    await WriteTextAsync(importer, scan.Client?.DeviceType, cancellationToken);
                    await WriteTextAsync(importer, scan.Client?.Os, cancellationToken);
                    await WriteTextAsync(importer, scan.Client?.Browser, cancellationToken);
                    await importer.WriteAsync(scan.Client?.IsBot ?? false, NpgsqlDbType.Boolean, cancellationToken);
                    await importer.WriteAsync(scan.IsRepeat, NpgsqlDbType.Boolean, cancellationToken);
                    if (scan.VisitorHash is { } visitor)
                    {
                        await importer.WriteAsync(visitor, NpgsqlDbType.Bigint, cancellationToken);
                    }
                    else
                    {
                        await importer.WriteNullAsync(cancellationToken);
                    }

                    await WriteTextAsync(importer, scan.Route, cancellationToken);
                    if (_describeScans)
                    {
                        await importer.WriteAsync(EventData(scan), NpgsqlDbType.Text, cancellationToken);
                    }
                    else
                    {
                        await importer.WriteNullAsync(cancellationToken);
                    }
                }

                await importer.CompleteAsync(cancellationToken);
            }

            // The new rows are also queued for the owners' webhooks, in this transaction (WebhookOutboxSql).
            await using var insert = new NpgsqlCommand(InsertStatement, connection, transaction);
            int inserted;
            bool describe;
            await using (var reader = await insert.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                (inserted, describe) = (Convert.ToInt32(reader.GetInt64(0)), reader.GetBoolean(1));
            }

            await transaction.CommitAsync(cancellationToken);
            _describeScans = describe;
            return inserted;
        }
        catch
        {
            // The connection's state is unknown after any failure: start over with a fresh one.
            await ResetAsync();
            throw;
        }
    }

    /// <summary>This database's identity (migration 0009), which the local spool is stamped with.</summary>
    public async Task<Guid> ReadInstanceAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM invexqr_instance");
        return (Guid)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public ValueTask DisposeAsync()
    {
        _eventJson?.Dispose();
        return ResetAsync();
    }

    private static Task WriteDoubleAsync(NpgsqlBinaryImporter importer, double? value, CancellationToken cancellationToken) =>
        value is { } v ? importer.WriteAsync(v, NpgsqlDbType.Double, cancellationToken) : importer.WriteNullAsync(cancellationToken);

    /// <summary>PostgreSQL text cannot hold NUL characters; a header carrying one must not poison a batch.</summary>
    internal static string? Storable(string? value) => value is not null && value.Contains('\0') ? value.Replace("\0", string.Empty) : value;

    private static Task WriteTextAsync(NpgsqlBinaryImporter importer, string? value, CancellationToken cancellationToken) =>
        value is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(Storable(value)!, NpgsqlDbType.Text, cancellationToken);

    /// <summary>The scan's event data as UTF-8 in the writer's buffer (valid until the next call), copied into COPY as it is.</summary>
    private ReadOnlyMemory<byte> EventData(ScanRecord scan)
    {
        _eventData.ResetWrittenCount();
        if (_eventJson is null)
        {
            _eventJson = new Utf8JsonWriter(_eventData);
        }
        else
        {
            _eventJson.Reset(_eventData);
        }

        ScanPayload.WriteEventData(_eventJson, scan);
        _eventJson.Flush();
        return _eventData.WrittenMemory;
    }

    /// <summary>
    /// True for errors caused by the rows themselves (data exceptions, constraint violations): retrying
    /// the same batch can never succeed, so the sink splits it to isolate the offending row.
    /// </summary>
    public static bool IsCausedByData(Exception exception) =>
        exception is PostgresException { SqlState: var state } && (state.StartsWith("22", StringComparison.Ordinal) || state.StartsWith("23", StringComparison.Ordinal));

    /// <summary>The staged scans into qr_scans, and their events into the outbox (<see cref="WebhookOutboxSql"/>).</summary>
    public static readonly string InsertStatement = WebhookOutboxSql.WithScanEvents(
        // Scans of a code deleted while they waited in the sink are dropped, not left behind as orphans.
        $"INSERT INTO qr_scans ({ColumnList}) SELECT {ColumnList} FROM qr_scans_stage s " +
        "WHERE EXISTS (SELECT 1 FROM qr_codes c WHERE c.id = s.qr_code_id) ON CONFLICT DO NOTHING");

    /// <summary>The connection's staging table for COPY, emptied at each commit.</summary>
    public const string StageDefinition =
        "CREATE TEMP TABLE IF NOT EXISTS qr_scans_stage (LIKE qr_scans INCLUDING DEFAULTS, event_data text) ON COMMIT DELETE ROWS; " +
        "CREATE INDEX IF NOT EXISTS qr_scans_stage_id ON qr_scans_stage (id)";

    private async Task<NpgsqlConnection> EnsureConnectionAsync(CancellationToken cancellationToken)
    {
        if (_connection is { State: System.Data.ConnectionState.Open })
        {
            return _connection;
        }

        await ResetAsync();
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // The index is for the webhook outbox part of the statement (WebhookOutboxSql), which finds each inserted scan's
        // event data in the stage by id. Expecting few endpoints, the planner joins by nested loop, and without an index
        // that scans the whole stage once per scan: quadratic in the batch (1.2 s for 5,600 scans with 1.1 million codes).
        await using (var create = new NpgsqlCommand(StageDefinition, connection))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        _connection = connection;
        return connection;
    }

    private async ValueTask ResetAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }
}
