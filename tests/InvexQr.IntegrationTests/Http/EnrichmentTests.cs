using System.Net;
using InvexQr.IntegrationTests.Infrastructure;
using Npgsql;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Scans enriched with location and device, through the real gateway (its silo in process): the gateway trusts
/// forwarded headers only from its configured proxies (here: loopback, i.e. this test). Each test starts a host
/// with its own trust settings.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class EnrichmentTests(PostgresServer postgres)
{
    private const string IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

    [Fact]
    public async Task Through_a_trusted_proxy_a_phone_scan_stores_country_city_browser_os_and_device()
    {
        await using var deployment = await GatewayHost.StartAsync(postgres, new Dictionary<string, string?>
        {
            ["Network:TrustedProxies:0"] = "127.0.0.1",
        });
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/geo")).GetProperty("code").GetString()!;

        await ScanAsync(deployment, code, IPhone, ("X-Forwarded-For", "81.2.69.142"));
        await ScanAsync(deployment, code, IPhone, ("Forwarded", "for=\"[2001:4860:4860::8888]:4711\""));

        var rows = await ReadScansAsync(deployment, code, 2);
        var v4 = rows.Single(r => r.Ip == "81.2.69.0");
        Assert.Equal(("GB", "East Finchley", "Mobile Safari", "iOS", "mobile", false), (v4.Country, v4.City, v4.Browser, v4.Os, v4.Device, v4.IsBot));
        Assert.NotNull(v4.Latitude);
        var v6 = rows.Single(r => r.Ip == "2001:4860:4860::");   // IPv6 kept to its /48
        Assert.Equal("US", v6.Country);
    }

    [Fact]
    public async Task A_spoofed_forwarded_header_from_an_untrusted_peer_is_ignored_and_bots_are_redirected_but_flagged()
    {
        await using var deployment = await GatewayHost.StartAsync(postgres); // trusts no proxy
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/spoof")).GetProperty("code").GetString()!;

        await ScanAsync(deployment, code, IPhone, ("X-Forwarded-For", "81.2.69.142"), ("Forwarded", "for=81.2.69.142"));
        await ScanAsync(deployment, code, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)");

        var rows = await ReadScansAsync(deployment, code, 2);
        var human = rows.Single(r => !r.IsBot);
        Assert.Equal("127.0.0.0", human.Ip);         // the real peer, truncated; the header was ignored
        Assert.Null(human.Country);                    // loopback has no location
        Assert.Equal("mobile", human.Device);
        var bot = rows.Single(r => r.IsBot);
        Assert.Equal("bot", bot.Device);
    }

    [Fact]
    public async Task Headers_from_a_peer_outside_the_trusted_proxies_are_ignored()
    {
        // Proxies are trusted, but not the peer this test is (127.0.0.1): its header must not be believed.
        await using var deployment = await GatewayHost.StartAsync(postgres, new Dictionary<string, string?>
        {
            ["Network:TrustedProxies:0"] = "10.0.0.5",
            ["Network:TrustedNetworks:0"] = "192.168.0.0/16",
        });
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/untrusted")).GetProperty("code").GetString()!;

        await ScanAsync(deployment, code, IPhone, ("X-Forwarded-For", "81.2.69.142"));

        var row = Assert.Single(await ReadScansAsync(deployment, code, 1));
        Assert.Equal("127.0.0.0", row.Ip);
    }

    private static async Task ScanAsync(GatewayHost deployment, string code, string userAgent, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/r/{code}");
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await deployment.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
    }

    private sealed record ScanRow(string? Ip, string? Country, string? City, double? Latitude, string? Browser, string? Os, string? Device, bool IsBot);

    private static async Task<List<ScanRow>> ReadScansAsync(GatewayHost deployment, string code, int expected)
    {
        Assert.Equal(expected, await deployment.WaitForScanRowsAsync(code));
        await using var connection = new NpgsqlConnection(deployment.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT s.ip_address, s.country_code, s.city, s.latitude, s.browser, s.os, s.device_type, s.is_bot
            FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1
            """, connection);
        command.Parameters.Add(new NpgsqlParameter { Value = code });
        var rows = new List<ScanRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new ScanRow(
                reader.IsDBNull(0) ? null : reader.GetString(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetDouble(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetBoolean(7)));
        }

        return rows;
    }
}
