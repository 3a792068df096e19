using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Webhooks end to end: the gateway with its silo in process, a receiver on loopback Kestrel (allowed by
/// <c>Webhooks:AllowPrivateAddresses</c>, which only these tests set), short batch windows and backoff.
/// Each test has an owner of its own, so it sees only its own events.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WebhookTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Webhooks:AllowPrivateAddresses"] = "true",
        ["Webhooks:BatchSize"] = "25",
        ["Webhooks:BatchWindowMs"] = "100",
        ["Webhooks:RetryBaseSeconds"] = "0.3",
        ["Webhooks:RetryMaxSeconds"] = "2",
        ["Webhooks:DisableAfterFailures"] = "3",
        ["Webhooks:DisableAfter"] = "00:00:00",
        ["Webhooks:GoneSweepSeconds"] = "0.3",
    };

    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.GetAsync(postgres, Settings);

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<(HttpClient Owner, JsonElement Endpoint)> RegisterAsync(WebhookReceiver receiver, object? extra = null)
    {
        var owner = await _host.CreateOwnerClientAsync("hooks-" + Guid.NewGuid().ToString("N")[..8]);
        var body = new Dictionary<string, object?> { ["url"] = receiver.Url, ["events"] = new[] { "scan", "code.created", "code.updated", "code.deleted", "code.gone" } };
        foreach (var property in extra?.GetType().GetProperties() ?? [])
        {
            body[property.Name] = property.GetValue(extra);
        }

        using var response = await owner.PostAsJsonAsync("/api/webhooks", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        return (owner, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static async Task ScanSequentiallyAsync(HttpClient http, string code, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var response = await http.GetAsync($"/r/{code}");
            Assert.True(response.StatusCode == HttpStatusCode.Found, $"scan {i} of {code}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task Scans_and_code_events_arrive_signed_batched_in_order_per_code_and_verify_with_the_documented_snippets()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (owner, endpoint) = await RegisterAsync(receiver);
        var secret = endpoint.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret);
        var a = (await owner.CreateCodeAsync("https://example.org/a")).GetProperty("code").GetString()!;
        var b = (await owner.CreateCodeAsync("https://example.org/b")).GetProperty("code").GetString()!;

        // Two codes scanned at the same time, each one scan after the other: their events interleave in the outbox.
        await Task.WhenAll(ScanSequentiallyAsync(_host.Http, a, 60), ScanSequentiallyAsync(_host.Http, b, 60));
        await _host.FlushAsync();
        await receiver.WaitForAsync(() => receiver.Delivered.Count(e => e.GetProperty("type").GetString() == "scan") >= 120, "120 scan events");

        // Batched: at most BatchSize events per request, far fewer requests than events.
        Assert.All(receiver.Requests, r => Assert.InRange(r.Events.Count(), 1, 25));
        Assert.True(receiver.Requests.Count < 60, $"{receiver.Requests.Count} requests for 122 events");

        // Every request verifies with the documented C# snippet (the docs' text is this one) and the Python one;
        // a wrong secret or a changed body does not.
        var docs = await File.ReadAllTextAsync(Path.Combine(Repo.Root, "docs", "webhooks.md"));
        Assert.Contains(Normalise(SnippetSource()), Normalise(Block(docs, "csharp")));
        foreach (var request in receiver.Requests)
        {
            Assert.True(WebhookSnippet.VerifyInvexQrSignature(secret, request.Signature!, request.Body, TimeSpan.FromMinutes(5)));
            Assert.False(WebhookSnippet.VerifyInvexQrSignature(secret + "x", request.Signature!, request.Body, TimeSpan.FromMinutes(5)));
            Assert.False(WebhookSnippet.VerifyInvexQrSignature(secret, request.Signature!, [.. request.Body, (byte)' '], TimeSpan.FromMinutes(5)));
        }

        var first = receiver.Requests.First();
        Assert.Equal("True\nFalse", await RunPythonSnippetAsync(Block(docs, "python"), secret, first.Signature!, first.Body));

        // Exactly the stored scans, each once, in scan order per code, after the code's code.created.
        var events = receiver.Delivered;
        foreach (var code in new[] { a, b })
        {
            var ofCode = events.Where(e => e.GetProperty("data").GetProperty("code").GetString() == code).ToList();
            Assert.Equal("code.created", ofCode[0].GetProperty("type").GetString());
            var scans = ofCode.Skip(1).ToList();
            Assert.Equal(60, scans.Count);
            Assert.All(scans, e => Assert.Equal("scan", e.GetProperty("type").GetString()));
            var times = scans.Select(e => e.GetProperty("data").GetProperty("scannedAt").GetDateTimeOffset()).ToList();
            Assert.Equal(times.Order().ToList(), times);
            Assert.Equal(60, scans.Select(e => e.GetProperty("id").GetString()).Distinct().Count());
            Assert.Equal(60, await _host.ScalarAsync(
                "SELECT count(*) FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1 AND s.id = ANY($2::uuid[])",
                code, scans.Select(e => Guid.Parse(e.GetProperty("id").GetString()!)).ToArray()));
            // No more than the stored scan, and no address at all.
            var data = scans[0].GetProperty("data");
            Assert.False(data.TryGetProperty("ipAddress", out _));
            Assert.False(data.TryGetProperty("userAgent", out _));
        }

        // Code events: updated, then gone (expired), then deleted, with the scans' events gone from the outbox.
        using (var patch = await owner.PatchAsync($"/api/codes/{a}", JsonContent.Create(new { expiresAt = DateTimeOffset.UtcNow.AddSeconds(1.5) })))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        await receiver.WaitForAsync(() => TypesOf(receiver, a).Contains("code.gone"), "code.gone");
        using (var delete = await owner.DeleteAsync($"/api/codes/{a}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        await receiver.WaitForAsync(() => TypesOf(receiver, a).Contains("code.deleted"), "code.deleted");
        Assert.Equal(["code.created", "scan", "code.updated", "code.gone", "code.deleted"], TypesOf(receiver, a).Distinct().ToArray());
        var goneEvents = receiver.Delivered.Where(e => e.GetProperty("type").GetString() == "code.gone").ToList();
        Assert.True(goneEvents.Count == 1, string.Join("\n", goneEvents.Select(e => e.GetRawText())));
        var gone = goneEvents[0];
        Assert.Equal("expired", gone.GetProperty("data").GetProperty("reason").GetString());

        // The deliveries are visible to the owner.
        var deliveries = await owner.GetFromJsonAsync<JsonElement>($"/api/webhooks/{endpoint.GetProperty("id").GetInt64()}/deliveries?limit=100");
        Assert.True(deliveries.GetArrayLength() >= 5);
        Assert.All(deliveries.EnumerateArray(), d =>
        {
            Assert.True(d.GetProperty("succeeded").GetBoolean());
            Assert.Equal(200, d.GetProperty("responseCode").GetInt32());
        });
    }

    [Fact]
    public async Task A_receiver_that_fails_then_recovers_gets_every_event_after_retries_with_growing_delays_and_a_replay_resends_one()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = n => Task.FromResult(n < 2 ? 503 : 200);
        var (owner, endpoint) = await RegisterAsync(receiver);
        var id = endpoint.GetProperty("id").GetInt64();
        var code = (await owner.CreateCodeAsync("https://example.org/retry")).GetProperty("code").GetString()!;
        await ScanSequentiallyAsync(_host.Http, code, 10);
        await _host.FlushAsync();

        await receiver.WaitForAsync(() => receiver.Delivered.Count >= 11, "11 events after the receiver recovered");
        var attempts = receiver.Requests.ToList();
        Assert.Equal([503, 503, 200], attempts.Take(3).Select(r => r.Status));
        // Backoff: 0.3 s then 0.6 s (+ up to 20 %): the second wait is longer than the first.
        var firstWait = attempts[1].At - attempts[0].At;
        var secondWait = attempts[2].At - attempts[1].At;
        Assert.True(firstWait >= TimeSpan.FromMilliseconds(280), $"first retry after {firstWait}");
        Assert.True(secondWait > firstWait && secondWait >= TimeSpan.FromMilliseconds(580), $"retries after {firstWait} then {secondWait}");
        // The retried batch is the same events (same ids), in the same order.
        Assert.Equal(
            attempts[0].Events.Select(e => e.GetProperty("id").GetString()),
            attempts[2].Events.Take(attempts[0].Events.Count()).Select(e => e.GetProperty("id").GetString()));
        var delivered = receiver.Delivered;
        Assert.Equal(11, delivered.Select(e => e.GetProperty("id").GetString()).Distinct().Count());
        Assert.Equal(11, delivered.Count);

        var log = (await owner.GetFromJsonAsync<JsonElement>($"/api/webhooks/{id}/deliveries")).EnumerateArray().Reverse().ToList();
        Assert.Equal([false, false, true], log.Take(3).Select(d => d.GetProperty("succeeded").GetBoolean()));
        Assert.Equal(503, log[0].GetProperty("responseCode").GetInt32());
        Assert.Equal("HTTP 503", log[0].GetProperty("error").GetString());
        Assert.True(log[2].GetProperty("latencyMs").GetInt32() >= 0);

        // Replay of the successful delivery: the same event ids once more.
        var replayed = log[2];
        var before = receiver.Requests.Count;
        using var replay = await owner.PostAsync($"/api/webhooks/{id}/deliveries/{replayed.GetProperty("id").GetString()}/replay", null);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        await receiver.WaitForAsync(() => receiver.Requests.Count > before && receiver.Requests.Last().Succeeded, "the replay");
        Assert.Equal(
            attempts[2].Events.Select(e => e.GetProperty("id").GetString()),
            receiver.Requests.Skip(before).SelectMany(r => r.Events).Select(e => e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task An_endpoint_that_keeps_failing_is_disabled_with_a_reason_and_keeps_its_events_until_re_enabled()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = _ => Task.FromResult(500);
        var (owner, endpoint) = await RegisterAsync(receiver, new { tags = new[] { "campaign" } });
        var id = endpoint.GetProperty("id").GetInt64();
        // Tag filter: only the tagged code's events are queued.
        using (var created = await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/t", code = "hook-tagged-" + id, tags = new[] { "campaign" } }))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        var untagged = (await owner.CreateCodeAsync("https://example.org/u")).GetProperty("code").GetString()!;
        await ScanSequentiallyAsync(_host.Http, "hook-tagged-" + id, 5);
        await ScanSequentiallyAsync(_host.Http, untagged, 5);
        await _host.FlushAsync();

        JsonElement state = default;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((state = await owner.GetFromJsonAsync<JsonElement>($"/api/webhooks/{id}")).GetProperty("status").GetString() != "disabled"
               && DateTime.UtcNow < deadline && await Polling.Pause(100))
        {
        }

        Assert.Equal("disabled", state.GetProperty("status").GetString());
        Assert.Contains("3 failed deliveries in a row", state.GetProperty("disabledReason").GetString());
        Assert.Contains("HTTP 500", state.GetProperty("disabledReason").GetString());
        Assert.Equal(3, receiver.Requests.Count);
        Assert.Equal(6, state.GetProperty("pendingEvents").GetInt64()); // code.created + 5 scans of the tagged code

        // Nothing is sent to a disabled endpoint; re-enabled, it gets what waited.
        await Task.Delay(700);
        Assert.Equal(3, receiver.Requests.Count);
        receiver.Respond = _ => Task.FromResult(204);
        using (var enable = await owner.PatchAsync($"/api/webhooks/{id}", JsonContent.Create(new { enabled = true })))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        }

        await receiver.WaitForAsync(() => receiver.Delivered.Count == 6, "the 6 waiting events");
        Assert.All(receiver.Delivered, e => Assert.Equal("hook-tagged-" + id, e.GetProperty("data").GetProperty("code").GetString()));
        var after = await owner.GetFromJsonAsync<JsonElement>($"/api/webhooks/{id}");
        Assert.Equal(0, after.GetProperty("consecutiveFailures").GetInt32());
        Assert.Equal(0, after.GetProperty("pendingEvents").GetInt64());
    }

    private static string[] TypesOf(WebhookReceiver receiver, string code) =>
        receiver.Delivered.Where(e => e.GetProperty("data").GetProperty("code").GetString() == code).Select(e => e.GetProperty("type").GetString()!).ToArray();

    private static string SnippetSource()
    {
        var source = File.ReadAllText(Path.Combine(Repo.Root, "tests", "InvexQr.IntegrationTests", "Http", "WebhookSnippet.cs"));
        return source.Split("// snippet:begin")[1].Split("// snippet:end")[0];
    }

    private static string Block(string markdown, string language) =>
        markdown.Split($"```{language}\n")[1].Split("```")[0];

    private static string Normalise(string code) =>
        string.Join('\n', code.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    private static async Task<string> RunPythonSnippetAsync(string snippet, string secret, string header, byte[] body)
    {
        var dir = Directory.CreateTempSubdirectory("invexqr-hook-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(dir.FullName, "body"), body);
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "check.py"), snippet + """

                import sys
                body = open(sys.argv[1], "rb").read()
                print(verify_invexqr_signature(sys.argv[2], sys.argv[3], body))
                print(verify_invexqr_signature(sys.argv[2] + "x", sys.argv[3], body))
                """);
            var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { Path.Combine(dir.FullName, "check.py"), Path.Combine(dir.FullName, "body"), secret, header })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            var errors = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, errors);
            return output.Trim();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
