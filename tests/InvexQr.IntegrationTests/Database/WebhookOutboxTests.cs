using System.Text.Json;
using InvexQr.Abstractions;
using InvexQr.Data;
using InvexQr.Grains.Scans;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Database;

/// <summary>
/// The outbox's scan rows, against PostgreSQL: a row of many scans, delivered in batches smaller than it, a code deleted
/// while its scans wait, and the events' data as written with the scans.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WebhookOutboxTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_scan_batch_is_one_row_per_500_scans_and_claims_cut_it_in_order_without_loss_or_repeat()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("outbox");
        var code = await HookedCodeAsync(dataSource, "batched");

        var start = DateTimeOffset.UtcNow.AddMinutes(-1);
        var scans = Enumerable.Range(0, 1_203)
            .Select(i => new ScanRecord(Guid.CreateVersion7(start.AddMilliseconds(i)), code, start.AddMilliseconds(i), null, null, null))
            .ToList();
        await using (var writer = new ScanWriter(dataSource))
        {
            Assert.Equal(1_203, await writer.WriteAsync(scans, CancellationToken.None));
        }

        Assert.Equal(new long[] { 500, 500, 203 }, await ColumnAsync(dataSource, "SELECT event_count FROM webhook_outbox ORDER BY id"));

        // Batches of 333 cross the rows' edges: each claim takes whole rows and the start of the next one.
        var sizes = new List<int>();
        var delivered = await DeliverAllAsync(dataSource, 333, sizes);
        Assert.Equal(new[] { 333, 333, 333, 204 }, sizes);
        Assert.Equal(scans.Select(s => s.Id), delivered); // every scan once, in scan order
        Assert.Empty(await ColumnAsync(dataSource, "SELECT event_count FROM webhook_outbox"));
    }

    [Fact]
    public async Task A_code_deleted_while_its_scans_wait_leaves_the_shared_rows_and_the_others_go_out_in_order()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("outbox-delete");
        var kept = await HookedCodeAsync(dataSource, "kept");
        var doomed = await HookedCodeAsync(dataSource, "doomed", sameOwnerAs: kept);
        var start = DateTimeOffset.UtcNow.AddMinutes(-1);
        var scans = Enumerable.Range(0, 1_100)
            .Select(i => new ScanRecord(Guid.CreateVersion7(start.AddMilliseconds(i)), i % 3 == 0 ? doomed : kept, start.AddMilliseconds(i), null, null, null))
            .ToList();
        await using (var writer = new ScanWriter(dataSource))
        {
            await writer.WriteAsync(scans, CancellationToken.None);
        }

        // A first batch takes part of the first row; the code is deleted while that batch is out; the cut made after it
        // still starts at the right scan, and what follows holds none of the deleted code's scans.
        var outbox = new WebhookOutbox(dataSource);
        var delivered = new List<Guid>();
        await using (var first = await outbox.ClaimAsync(200, TimeSpan.Zero, CancellationToken.None))
        {
            Assert.NotNull(first);
            delivered.AddRange(first.Deliverable.Select(ScanIdOf));
            Assert.True(await new CodeRepository(dataSource).DeleteAsync("doomed"));
            await first.SucceededAsync(Guid.CreateVersion7(), 200, 1, "[]", 100, CancellationToken.None);
        }

        delivered.AddRange(await DeliverAllAsync(dataSource, 333, []));
        var expected = scans.Take(200).Select(s => s.Id).Concat(scans.Skip(200).Where(s => s.CodeId == kept).Select(s => s.Id));
        Assert.Equal(expected, delivered);
        Assert.Empty(await ColumnAsync(dataSource, "SELECT event_count FROM webhook_outbox"));
    }

    [Fact]
    public async Task A_scan_events_data_written_with_the_scan_is_what_the_replay_path_writes_from_the_scan_row()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("outbox-data");
        var code = await HookedCodeAsync(dataSource, "described");
        var at = DateTimeOffset.UtcNow.AddSeconds(-5);
        var full = new ScanRecord(
            Guid.CreateVersion7(at), code, at, "81.2.69.0", "agent", null,
            new GeoLocation("GB", "United Kingdom", "England \"North\"", "Lond\u00f6n", 51.5142, -0.0931),
            new ClientInfo("Mobile Safari", "iOS", "mobile", false), IsRepeat: true);
        var bare = new ScanRecord(Guid.CreateVersion7(at.AddTicks(10)), code, at.AddTicks(10), null, null, null, GeoLocation.Unknown, new ClientInfo(null, null, "other", true));
        await using (var writer = new ScanWriter(dataSource))
        {
            await writer.WriteAsync([full, bare], CancellationToken.None);
        }

        var outbox = new WebhookOutbox(dataSource);
        await using var claim = await outbox.ClaimAsync(10, TimeSpan.Zero, CancellationToken.None);
        Assert.NotNull(claim);
        Assert.Equal(2, claim.Deliverable.Count);
        await using var read = dataSource.CreateCommand("""
            SELECT s.id, c.code, s.scanned_at, s.country_code, s.subdivision, s.city, s.latitude, s.longitude,
                   s.device_type, s.os, s.browser, s.is_bot, s.is_repeat
              FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE s.id = $1
            """);
        var scanId = read.Parameters.Add(new());
        foreach (var e in claim.Deliverable)
        {
            scanId.Value = e.EventId;
            await using var reader = await read.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            await using (var json = new Utf8JsonWriter(buffer))
            {
                ScanPayload.Read(reader).WriteTo(json);
            }

            using var fromRow = JsonDocument.Parse(buffer.WrittenMemory);
            using var queued = JsonDocument.Parse(e.ScanData!);
            Assert.Equal(Fields(fromRow.RootElement), Fields(queued.RootElement));
        }
    }

    /// <summary>Each property in order with its value: strings unescaped, numbers as doubles, times as instants.</summary>
    private static List<string> Fields(JsonElement json) => json.EnumerateObject()
        .Select(p => p.Name + "=" + (p.Value.ValueKind switch
        {
            JsonValueKind.String when p.Name == "scannedAt" => p.Value.GetDateTimeOffset().UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            JsonValueKind.String => "s:" + p.Value.GetString(),
            JsonValueKind.Number => "n:" + p.Value.GetDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            _ => p.Value.GetRawText(),
        }))
        .ToList();

    private static Guid ScanIdOf(OutboxEvent e)
    {
        Assert.NotNull(e.ScanData);
        using var json = JsonDocument.Parse(e.ScanData);
        return json.RootElement.GetProperty("scanId").GetGuid();
    }

    /// <summary>Claims and acknowledges batches of <paramref name="batchSize"/> until the outbox is empty; the scans in delivery order.</summary>
    private static async Task<List<Guid>> DeliverAllAsync(Npgsql.NpgsqlDataSource dataSource, int batchSize, List<int> sizes)
    {
        var outbox = new WebhookOutbox(dataSource);
        var delivered = new List<Guid>();
        while (await outbox.ClaimAsync(batchSize, TimeSpan.Zero, CancellationToken.None) is { Events.Count: > 0 } claim)
        {
            await using (claim)
            {
                delivered.AddRange(claim.Deliverable.Select(ScanIdOf));
                sizes.Add(claim.Events.Count);
                await claim.SucceededAsync(Guid.CreateVersion7(), 200, 1, "[]", 100, CancellationToken.None);
            }
        }

        return delivered;
    }

    /// <summary>A code whose owner has one endpoint subscribed to scans (a new owner unless <paramref name="sameOwnerAs"/>); its id.</summary>
    private static async Task<long> HookedCodeAsync(Npgsql.NpgsqlDataSource dataSource, string slug, long? sameOwnerAs = null)
    {
        var code = await new CodeRepository(dataSource).InsertAsync(slug, new CreateCodeCommand("https://example.org/", null, null));
        await using var endpoint = dataSource.CreateCommand(sameOwnerAs is null
            ? """
              WITH owner AS (INSERT INTO owners (name) VALUES ('hooked') RETURNING id),
                   code AS (UPDATE qr_codes SET owner_id = (SELECT id FROM owner) WHERE id = $1)
              INSERT INTO webhook_endpoints (owner_id, url, events, secret)
              SELECT id, 'https://receiver.example/', ARRAY['scan'], 'whsec_test' FROM owner
              """
            : "UPDATE qr_codes SET owner_id = (SELECT owner_id FROM qr_codes WHERE id = $2) WHERE id = $1");
        endpoint.Parameters.Add(new() { Value = code!.Id });
        if (sameOwnerAs is { } other)
        {
            endpoint.Parameters.Add(new() { Value = other });
        }

        await endpoint.ExecuteNonQueryAsync();
        return code.Id;
    }

    private static async Task<List<long>> ColumnAsync(Npgsql.NpgsqlDataSource dataSource, string sql)
    {
        var values = new List<long>();
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            values.Add(Convert.ToInt64(reader.GetValue(0)));
        }

        return values;
    }
}
