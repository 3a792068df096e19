using System.Text.Json;
using InvexQr.Abstractions;
using InvexQr.Data;
using InvexQr.Grains.Scans;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace InvexQr.IntegrationTests.Database;

/// <summary>
/// The outbox's scan rows, against PostgreSQL: a row of many scans, delivered in batches smaller than it, a code deleted
/// while its scans wait, and the events' data as written with the scans.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WebhookOutboxTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_scan_batch_is_one_row_per_500_scans_and_claims_take_whole_rows_in_order_without_loss_or_repeat()
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

        // Batches of 333 are smaller than a row: a claim takes the first part of a row larger than the batch, else
        // whole rows while they fit (the next row is never cut to fill a batch).
        var sizes = new List<int>();
        var delivered = await DeliverAllAsync(dataSource, 333, sizes);
        Assert.Equal(new[] { 333, 167, 333, 167, 203 }, sizes);
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
            await first.SucceededAsync(Guid.CreateVersion7(), 200, 1, 100, CancellationToken.None);
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
            using var queued = JsonDocument.Parse(e.ScanData);
            Assert.Equal(Fields(fromRow.RootElement), Fields(queued.RootElement));
        }
    }

    [Fact]
    public async Task Scans_queued_before_the_writer_saw_an_endpoint_are_described_from_their_rows()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("outbox-undescribed");
        var code = (await new CodeRepository(dataSource).InsertAsync("late-hook", new CreateCodeCommand("https://example.org/", null, null)))!.Id;
        var at = DateTimeOffset.UtcNow.AddSeconds(-5);
        ScanRecord Scan(int i) => new(Guid.CreateVersion7(at.AddMilliseconds(i)), code, at.AddMilliseconds(i), null, null, null,
            new GeoLocation("DE", "Germany", null, "Berlin", 52.5, 13.4), new ClientInfo("Firefox", "Linux", "desktop", false));
        await using var writer = new ScanWriter(dataSource);
        await writer.WriteAsync([Scan(0)], CancellationToken.None); // no endpoint yet: the writer stops writing event data

        await HookAsync(dataSource, code);

        var late = new[] { Scan(1), Scan(2), Scan(3) };
        await writer.WriteAsync(late, CancellationToken.None); // queued without data, as the writer had seen no endpoint
        await writer.WriteAsync([Scan(4)], CancellationToken.None); // with data again

        await using var claim = await new WebhookOutbox(dataSource).ClaimAsync(10, TimeSpan.Zero, CancellationToken.None);
        Assert.NotNull(claim);
        Assert.Equal(4, claim.Deliverable.Count);
        Assert.All(claim.Deliverable.Take(3), e => Assert.True(e.ScanData.IsEmpty && e.Scan is { Code: "late-hook", City: "Berlin" }));
        Assert.Equal(late.Select(s => s.Id), claim.Deliverable.Take(3).Select(e => e.Scan!.ScanId));
        Assert.Null(claim.Deliverable[3].Scan);
        Assert.Equal("Berlin", JsonDocument.Parse(claim.Deliverable[3].ScanData).RootElement.GetProperty("city").GetString());
    }

    [Fact]
    public async Task An_older_releases_delivery_log_is_converted_and_replays_as_before()
    {
        // The schema as the release before 0304 left it, with a delivery logged as one jsonb document: a scan, a code
        // event, and a code.deleted logged before 0301 (no codeId, its code long gone).
        await using var dataSource = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("outbox-log"));
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);
        await runner.ApplyAsync(303);
        var code = await HookedCodeAsync(dataSource, "logged");
        var (scan, updated, deleted) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        var at = new DateTimeOffset(2026, 11, 30, 12, 0, 0, 123, TimeSpan.Zero);
        await using (var log = dataSource.CreateCommand("""
            INSERT INTO webhook_deliveries (id, endpoint_id, succeeded, response_code, latency_ms, event_count, events)
            SELECT $1, e.id, true, 200, 5, 3, jsonb_build_array(
                       jsonb_build_object('id', $2::uuid, 'type', 'scan', 'occurredAt', $5::timestamptz, 'codeId', $6::bigint),
                       jsonb_build_object('id', $3::uuid, 'type', 'code.updated', 'occurredAt', $5::timestamptz, 'codeId', $6::bigint,
                                          'data', jsonb_build_object('code', 'logged', 'title', 'T')),
                       jsonb_build_object('id', $4::uuid, 'type', 'code.deleted', 'occurredAt', $5::timestamptz,
                                          'data', jsonb_build_object('code', 'long-gone')))
              FROM webhook_endpoints e
            UNION ALL
            SELECT gen_random_uuid(), e.id, false, NULL, 10000, 0, '[]' FROM webhook_endpoints e
            """))
        {
            var delivery = Guid.CreateVersion7();
            foreach (var value in new object[] { delivery, scan, updated, deleted, at, code })
            {
                log.Parameters.Add(new() { Value = value });
            }

            await log.ExecuteNonQueryAsync();
            await runner.ApplyAsync();

            await using var read = dataSource.CreateCommand("""
                SELECT event_ids, event_types, event_codes, event_times, event_data::text[] FROM webhook_deliveries WHERE id = $1
                """);
            read.Parameters.Add(new() { Value = delivery });
            await using (var reader = await read.ExecuteReaderAsync())
            {
                Assert.True(await reader.ReadAsync());
                Assert.Equal(new[] { scan, updated, deleted }, reader.GetFieldValue<Guid[]>(0));
                Assert.Equal(new[] { "scan", "code.updated", "code.deleted" }, reader.GetFieldValue<string[]>(1));
                Assert.Equal(new[] { code, code, 0 }, reader.GetFieldValue<long[]>(2));
                Assert.All(reader.GetFieldValue<DateTimeOffset[]>(3), t => Assert.Equal(at, t));
                var data = reader.GetFieldValue<string?[]>(4);
                Assert.Null(data[0]);
                Assert.Equal("T", JsonDocument.Parse(data[1]!).RootElement.GetProperty("title").GetString());
                Assert.Equal("long-gone", JsonDocument.Parse(data[2]!).RootElement.GetProperty("code").GetString());
            }

            Assert.Equal(new long[] { 0 }, await ColumnAsync(dataSource, "SELECT cardinality(event_ids) FROM webhook_deliveries WHERE NOT succeeded"));

            // Replayed: the same events in the same order; the scan is described from its row when delivered.
            var (owner, endpoint) = await OwnerAndEndpointAsync(dataSource);
            Assert.Equal(3, await new WebhookRepository(dataSource).ReplayAsync(owner, endpoint, delivery));
            await using var queued = dataSource.CreateCommand("SELECT event_id, event_type, qr_code_id, payload->>'code' FROM webhook_outbox WHERE event_type <> 'code.created' ORDER BY id");
            await using var rows = await queued.ExecuteReaderAsync();
            var expected = new (Guid, string, long, string?)[] { (scan, "scan", code, null), (updated, "code.updated", code, "logged"), (deleted, "code.deleted", 0, "long-gone") };
            foreach (var (id, type, codeId, slug) in expected)
            {
                Assert.True(await rows.ReadAsync());
                Assert.Equal((id, type, codeId, slug), (rows.GetGuid(0), rows.GetString(1), rows.GetInt64(2), rows.IsDBNull(3) ? null : rows.GetString(3)));
            }

            Assert.False(await rows.ReadAsync());
        }
    }

    private static async Task<(long Owner, long Endpoint)> OwnerAndEndpointAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand("SELECT owner_id, id FROM webhook_endpoints");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), reader.GetInt64(1));
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
        Assert.False(e.ScanData.IsEmpty);
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
                await claim.SucceededAsync(Guid.CreateVersion7(), 200, 1, 100, CancellationToken.None);
            }
        }

        return delivered;
    }

    /// <summary>A code whose owner has one endpoint subscribed to scans (a new owner unless <paramref name="sameOwnerAs"/>); its id.</summary>
    private static async Task<long> HookedCodeAsync(Npgsql.NpgsqlDataSource dataSource, string slug, long? sameOwnerAs = null)
    {
        var code = (await new CodeRepository(dataSource).InsertAsync(slug, new CreateCodeCommand("https://example.org/", null, null)))!.Id;
        if (sameOwnerAs is not { } other)
        {
            await HookAsync(dataSource, code);
            return code;
        }

        await using var share = dataSource.CreateCommand("UPDATE qr_codes SET owner_id = (SELECT owner_id FROM qr_codes WHERE id = $2) WHERE id = $1");
        share.Parameters.Add(new() { Value = code });
        share.Parameters.Add(new() { Value = other });
        await share.ExecuteNonQueryAsync();
        return code;
    }

    [Fact]
    public async Task The_writer_finds_each_scans_event_data_in_the_stage_by_index_never_by_rescanning_it_per_scan()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("outbox-plan");
        var code = await HookedCodeAsync(dataSource, "planned");
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var setup = new NpgsqlCommand($$"""
            INSERT INTO qr_codes (code, owner_id, target_url)
            SELECT 'filler' || g, (SELECT owner_id FROM qr_codes WHERE id = {{code}}), 'https://example.org/' || g FROM generate_series(1, 20000) g;
            ANALYZE qr_codes;
            {{ScanWriter.StageDefinition}};
            INSERT INTO qr_scans_stage (id, qr_code_id, scanned_at, event_data)
            SELECT gen_random_uuid(), {{code}}, now(), '{"scanId":"00000000-0000-0000-0000-000000000000"}' FROM generate_series(1, 5000);
            """, connection, transaction))
        {
            await setup.ExecuteNonQueryAsync();
        }

        // With a million codes and one endpoint the planner joins by nested loops (index lookups of the codes; one
        // endpoint row expected), the stage on a loop's inner side; without an index there, it scanned the whole stage
        // for every scan (1.2 s for 5,600 scans). This database is small enough for hash joins: nested loops are
        // imposed, as that size makes the planner choose them.
        await using (var loops = new NpgsqlCommand("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off", connection, transaction))
        {
            await loops.ExecuteNonQueryAsync();
        }

        await using var explain = new NpgsqlCommand("EXPLAIN (FORMAT JSON) " + ScanWriter.InsertStatement, connection, transaction);
        using var plan = JsonDocument.Parse((string)(await explain.ExecuteScalarAsync())!);
        var rescans = new List<string>();
        FindStageRescans(plan.RootElement[0].GetProperty("Plan"), insideLoop: false, rescans);
        Assert.True(rescans.Count == 0, "the stage is scanned again for every outer row: " + string.Join("; ", rescans) + "\n" + plan.RootElement);
    }

    /// <summary>Sequential scans of the stage on the inner side of a nested loop (run once per outer row).</summary>
    private static void FindStageRescans(JsonElement node, bool insideLoop, List<string> found)
    {
        if (insideLoop && node.GetProperty("Node Type").GetString() == "Seq Scan"
            && node.TryGetProperty("Relation Name", out var relation) && relation.GetString() == "qr_scans_stage")
        {
            found.Add($"Seq Scan on qr_scans_stage ({node.GetProperty("Plan Rows")} rows)");
        }

        if (!node.TryGetProperty("Plans", out var children))
        {
            return;
        }

        var loop = node.GetProperty("Node Type").GetString() == "Nested Loop";
        foreach (var child in children.EnumerateArray())
        {
            var inner = loop && child.TryGetProperty("Parent Relationship", out var role) && role.GetString() == "Inner";
            FindStageRescans(child, insideLoop || inner, found);
        }
    }

    /// <summary>Gives code row <paramref name="code"/> a new owner with one endpoint subscribed to scans.</summary>
    private static async Task HookAsync(NpgsqlDataSource dataSource, long code)
    {
        await using var endpoint = dataSource.CreateCommand("""
            WITH owner AS (INSERT INTO owners (name) VALUES ('hooked') RETURNING id),
                 code AS (UPDATE qr_codes SET owner_id = (SELECT id FROM owner) WHERE id = $1)
            INSERT INTO webhook_endpoints (owner_id, url, events, secret)
            SELECT id, 'https://receiver.example/', ARRAY['scan'], 'whsec_test' FROM owner
            """);
        endpoint.Parameters.Add(new() { Value = code });
        await endpoint.ExecuteNonQueryAsync();
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
