using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;
using Npgsql;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Per-code, per-address throttling and the privacy promises, through the real gateway with its silo in process and
/// a real database. The class's host has realistic limits for scans and for unknown codes; the other tests start a
/// host with the limits or privacy mode they are about.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ProtectionTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>
{
    private static readonly Dictionary<string, string?> TrustLoopback = new() { ["Network:TrustedProxies:0"] = "127.0.0.1" };

    /// <summary>10 scans at once, then one every 10 s, per code and address; the same for unknown codes per address.</summary>
    private Task<GatewayHost> LimitedAsync() => shared.GetAsync(postgres, new Dictionary<string, string?>(TrustLoopback)
    {
        ["Throttle:Burst"] = "10",
        ["Throttle:PerMinute"] = "6",
        ["Network:UnknownCodes:Burst"] = "10",
        ["Network:UnknownCodes:PerMinute"] = "6",
    });

    [Fact]
    public async Task One_address_hammering_a_code_gets_429s_while_other_addresses_and_codes_are_served()
    {
        var deployment = await LimitedAsync();
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/hammered")).GetProperty("code").GetString()!;

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? throttled = null;
        for (var i = 0; i < 200; i++)
        {
            var response = await deployment.Http.ScanFromAsync(code, "81.2.69.142", AnalyticsTests.IPhone);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                throttled ??= response;
            }
        }

        Assert.Equal(10, statuses.Count(s => s == HttpStatusCode.Found));
        Assert.Equal(190, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.NotNull(throttled!.Headers.RetryAfter?.Delta);
        Assert.InRange(throttled.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 10);

        // An office next door (another address), one person after another: all served.
        for (var i = 0; i < 10; i++)
        {
            using var neighbour = await deployment.Http.ScanFromAsync(code, "89.160.20.112", AnalyticsTests.Desktop);
            Assert.Equal(HttpStatusCode.Found, neighbour.StatusCode);
        }

        // Throttled requests are counted, never stored as rows.
        Assert.Equal(20, await deployment.WaitForScanRowsAsync(code));
        // The flush wrote the rollups; a flush of the sink's own timer may still be committing its share, so the
        // stats are read until both counts are in (or the time is up).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        JsonElement totals;
        do
        {
            totals = (await deployment.Http.GetFromJsonAsync<JsonElement>($"/api/codes/{code}/stats")).GetProperty("totals");
        }
        while ((totals.GetProperty("throttled").GetInt64() < 190 || totals.GetProperty("humans").GetInt64() < 20)
               && DateTime.UtcNow < deadline && await Polling.Pause(100));

        Assert.Equal(190, totals.GetProperty("throttled").GetInt64());
        Assert.Equal(20, totals.GetProperty("humans").GetInt64());
        Assert.Equal(20, await deployment.ScanRowsAsync(code));
    }

    [Fact]
    public async Task A_client_guessing_random_codes_is_cut_off_before_the_cluster_while_its_real_scans_go_through()
    {
        var deployment = await LimitedAsync();
        var real = (await deployment.Http.CreateCodeAsync("https://example.org/real")).GetProperty("code").GetString()!;

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 60; i++)
        {
            using var guess = await deployment.Http.ScanFromAsync($"guess{i:D4}", "81.2.69.142", AnalyticsTests.Desktop);
            statuses.Add(guess.StatusCode);
            if (guess.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Equal(TimeSpan.FromSeconds(10), guess.Headers.RetryAfter?.Delta);
            }
        }

        Assert.Equal(10, statuses.Count(s => s == HttpStatusCode.NotFound));
        Assert.Equal(50, statuses.Count(s => s == HttpStatusCode.TooManyRequests));

        // The same client's scan of a real code is served; another client's guesses still get honest 404s.
        using var scan = await deployment.Http.ScanFromAsync(real, "81.2.69.142", AnalyticsTests.Desktop);
        Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        using var other = await deployment.Http.ScanFromAsync("guess9999", "89.160.20.112", AnalyticsTests.Desktop);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task A_per_code_override_raises_the_limit_for_that_code_only()
    {
        await using var deployment = await GatewayHost.StartAsync(postgres, new Dictionary<string, string?>(TrustLoopback)
        {
            ["Throttle:Burst"] = "3",
            ["Throttle:PerMinute"] = "1",
        });
        using var created = await deployment.Http.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/kiosk", throttleBurst = 50 });
        var kiosk = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString()!;
        var normal = (await deployment.Http.CreateCodeAsync("https://example.org/normal")).GetProperty("code").GetString()!;

        async Task<int> RedirectsAsync(string code)
        {
            var found = 0;
            for (var i = 0; i < 20; i++)
            {
                using var response = await deployment.Http.ScanFromAsync(code, "81.2.69.142", AnalyticsTests.IPhone);
                found += response.StatusCode == HttpStatusCode.Found ? 1 : 0;
            }

            return found;
        }

        Assert.Equal(20, await RedirectsAsync(kiosk));
        Assert.Equal(3, await RedirectsAsync(normal));
    }

    [Fact]
    public async Task In_truncate_mode_the_full_address_is_in_neither_the_database_nor_the_logs()
    {
        var deployment = await GatewayHost.StartAsync(postgres, TrustLoopback);
        string code;
        const string address = "81.2.69.142";
        try
        {
            code = (await deployment.Http.CreateCodeAsync("https://example.org/private")).GetProperty("code").GetString()!;
            using (var response = await deployment.Http.ScanFromAsync(code, address, AnalyticsTests.IPhone))
            {
                Assert.Equal(HttpStatusCode.Found, response.StatusCode);
            }

            Assert.Equal(1, await deployment.WaitForScanRowsAsync(code)); // the rollups are written too
            Assert.Equal(0, await CountRowsMentioningAsync(deployment, address));
            // The truncated form is there (seen through qr_scans and its partition): the search itself works.
            Assert.True(await CountRowsMentioningAsync(deployment, "81.2.69.0") > 0);
        }
        finally
        {
            // Stopped first, so the logs hold the shutdown too (the sinks' last words).
            await deployment.DisposeAsync();
        }

        var logs = deployment.Logs;
        Assert.DoesNotContain(address, logs);
        // The captured logs are the gateway's and its silo's, from the code's creation to the sink's stop.
        Assert.Contains($"Code {code} created", logs);
        Assert.Contains("Scan sink stopped", logs);
    }

    [Fact]
    public async Task Hash_mode_stores_a_daily_keyed_hash_and_do_not_track_keeps_only_the_country()
    {
        await using var deployment = await GatewayHost.StartAsync(postgres, new Dictionary<string, string?>(TrustLoopback)
        {
            ["Privacy:IpMode"] = "Hash",
        });
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/hashed")).GetProperty("code").GetString()!;

        (await deployment.Http.ScanFromAsync(code, "81.2.69.142", AnalyticsTests.IPhone)).Dispose();
        (await deployment.Http.ScanFromAsync(code, "81.2.69.142", AnalyticsTests.Desktop)).Dispose();
        (await deployment.Http.ScanFromAsync(code, "81.2.69.142", AnalyticsTests.IPhone, ("Sec-GPC", "1"))).Dispose();
        Assert.Equal(3, await deployment.WaitForScanRowsAsync(code));

        await using var connection = new NpgsqlConnection(deployment.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT ip_address, country_code, city, latitude, visitor_hash FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id
             WHERE c.code = $1 ORDER BY scanned_at
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = code });
        var rows = new List<(string? Ip, string? Country, string? City, bool HasLatitude, long? Visitor)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2), !reader.IsDBNull(3), reader.IsDBNull(4) ? null : reader.GetInt64(4)));
            }
        }

        Assert.Matches("^h:[0-9a-f]{16}$", rows[0].Ip);
        Assert.Equal(rows[0].Ip, rows[1].Ip);                 // same address, same day → same hash
        Assert.NotEqual(rows[0].Visitor, rows[1].Visitor);     // different device → different visitor
        Assert.Equal((null, "GB", null, false, null), rows[2]); // Sec-GPC: country only
        Assert.Equal(0, await CountRowsMentioningAsync(deployment, "81.2.69"));
    }

    /// <summary>Rows of every table in the public schema whose text form contains <paramref name="needle"/>.</summary>
    private static async Task<long> CountRowsMentioningAsync(GatewayHost deployment, string needle)
    {
        await using var connection = new NpgsqlConnection(deployment.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        long total = 0;
        foreach (var table in tables)
        {
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM \"{table}\" t WHERE t::text LIKE '%' || $1 || '%'", connection);
            count.Parameters.Add(new NpgsqlParameter { Value = needle });
            total += (long)(await count.ExecuteScalarAsync())!;
        }

        return total;
    }
}
