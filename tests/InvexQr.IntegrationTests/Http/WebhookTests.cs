using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Silo.Hosting.Webhooks;
using Microsoft.Extensions.DependencyInjection;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Webhooks end to end: the gateway with its silo in process, a receiver on loopback Kestrel (allowed by
/// <c>Webhooks:AllowPrivateAddresses</c>, which only these tests set), short batch windows and backoff.
/// Each test has an owner of its own, so it sees only its own events. The silo reads the CPU pressure from a file of the
/// class's (<c>Silo:CpuPressureFile</c>): no pressure, whatever the machine's load, unless a test applies some.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WebhookTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private static readonly string PressureFile = Path.Combine(Path.GetTempPath(), $"invexqr-cpu-pressure-{Guid.NewGuid():N}");

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["Silo:CpuPressureFile"] = PressureFile,
        ["Webhooks:AllowPrivateAddresses"] = "true",
        ["Webhooks:BatchSize"] = "25",
        ["Webhooks:BatchWindowMs"] = "100",
        ["Webhooks:RetryBaseSeconds"] = "0.3",
        ["Webhooks:RetryMaxSeconds"] = "2",
        ["Webhooks:DisableAfterFailures"] = "3",
        ["Webhooks:DisableAfter"] = "00:00:00",
        ["Webhooks:GoneSweepSeconds"] = "0.3",
        // Some tests hold a request while they queue more; the default 10 s is tight on a loaded machine.
        ["Webhooks:RequestTimeoutSeconds"] = "60",
    };

    private GatewayHost _host = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(PressureFile))
        {
            await File.WriteAllTextAsync(PressureFile, PressureLine(0));
        }

        _host = await shared.GetAsync(postgres, Settings);
    }

    private static string PressureLine(long stalledUs) => $"some avg10=0.00 avg60=0.00 avg300=0.00 total={stalledUs}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

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

    /// <summary>Waits until <paramref name="sql"/> counts at least <paramref name="expected"/>.</summary>
    private async Task WaitForCountAsync(string sql, long expected, string what, params object[] parameters)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        long count;
        while ((count = await _host.ScalarAsync(sql, parameters)) < expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: {count} of {expected} within 30 s");
            await Polling.Pause(50);
        }
    }

    private const string Pending = "SELECT coalesce(sum(event_count), 0) FROM webhook_outbox WHERE endpoint_id = $1";

    /// <summary>The events still waiting for endpoint <paramref name="id"/> once none are, or after 30 s.</summary>
    private async Task<long> PendingAfterDrainAsync(long id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        long left;
        while ((left = await _host.ScalarAsync(Pending, id)) > 0 && DateTime.UtcNow < deadline && await Polling.Pause(50))
        {
        }

        return left;
    }

    [Fact]
    public async Task Scans_and_code_events_arrive_signed_batched_in_order_per_code_and_verify_with_the_documented_snippets()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // The first request is held until every scan is queued: the rest then goes out in full batches.
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async n =>
        {
            if (n == 0)
            {
                await queued.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }

            return 200;
        };
        var (owner, endpoint) = await RegisterAsync(receiver);
        var id = endpoint.GetProperty("id").GetInt64();
        var secret = endpoint.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret);
        var a = (await owner.CreateCodeAsync("https://example.org/a")).GetProperty("code").GetString()!;
        var b = (await owner.CreateCodeAsync("https://example.org/b")).GetProperty("code").GetString()!;

        // Two codes scanned at the same time, each one scan after the other: their events interleave in the outbox.
        await Task.WhenAll(ScanSequentiallyAsync(_host.Http, a, 60), ScanSequentiallyAsync(_host.Http, b, 60));
        await _host.FlushAsync();
        await receiver.WaitForAsync(() => receiver.Arrived >= 1, "the first request");
        await WaitForCountAsync(Pending + " AND event_type = 'scan'", 120, "scan events queued", id);
        queued.SetResult();
        await receiver.WaitForAsync(() => receiver.Delivered.Count(e => e.GetProperty("type").GetString() == "scan") >= 120, "120 scan events");

        // Batched: after the held request, the 120 or 121 waiting events go out in batches of at most BatchSize (25). A
        // batch takes the groups of scans the sink wrote together whole (a group is split only when it alone exceeds
        // BatchSize), so a batch is cut short when the next group does not fit: never more than twice the fewest requests.
        var sizes = receiver.Requests.Skip(1).Select(r => r.Events.Count()).ToList();
        Assert.True(
            sizes.Sum() is 120 or 121 && sizes.All(n => n is > 0 and <= 25) && sizes.Count <= 2 * ((sizes.Sum() + 24) / 25),
            "batch sizes after the held request: " + string.Join(",", sizes));

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

        // Code events: updated, then gone (b expires in a moment, a has used up its 60 scans), then a deleted, with its
        // scans' events gone from the outbox. The sweep runs every 0.3 s meanwhile: each code.gone is queued once.
        using (var patch = await owner.PatchAsync($"/api/codes/{b}", JsonContent.Create(new { expiresAt = DateTimeOffset.UtcNow.AddSeconds(2) })))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        using (var patch = await owner.PatchAsync($"/api/codes/{a}", JsonContent.Create(new { maxScans = 60 })))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        await receiver.WaitForAsync(() => TypesOf(receiver, a).Contains("code.gone"), "code.gone of a");
        using (var delete = await owner.DeleteAsync($"/api/codes/{a}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        await receiver.WaitForAsync(() => TypesOf(receiver, a).Contains("code.deleted") && TypesOf(receiver, b).Contains("code.gone"), "code.deleted of a, code.gone of b");
        Assert.Equal(["code.created", "scan", "code.updated", "code.gone", "code.deleted"], TypesOf(receiver, a).Distinct().ToArray());
        Assert.Equal(["code.created", "scan", "code.updated", "code.gone"], TypesOf(receiver, b).Distinct().ToArray());
        // Two more sweeps after the delete: nothing more for a deleted code, nor a second notice for a gone one.
        await Task.WhenAll(WaitForSweepsAsync(2), _host.FlushAsync());
        await receiver.WaitForAsync(() => receiver.Arrived == receiver.Requests.Count, "every request answered");
        var goneEvents = receiver.Delivered.Where(e => e.GetProperty("type").GetString() == "code.gone").ToList();
        Assert.True(goneEvents.Count == 2, string.Join("\n", goneEvents.Select(e => e.GetRawText())));
        Assert.Equal("exhausted", goneEvents.Single(e => e.GetProperty("data").GetProperty("code").GetString() == a).GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal("expired", goneEvents.Single(e => e.GetProperty("data").GetProperty("code").GetString() == b).GetProperty("data").GetProperty("reason").GetString());
        // The last answer reached the receiver before the silo removed its events: the outbox empties right after.
        Assert.Equal(0, await PendingAfterDrainAsync(id));

        // The deliveries are visible to the owner.
        var deliveries = await owner.GetFromJsonAsync<JsonElement>($"/api/webhooks/{id}/deliveries?limit=100");
        Assert.True(deliveries.GetArrayLength() >= 6);
        Assert.All(deliveries.EnumerateArray(), d =>
        {
            Assert.True(d.GetProperty("succeeded").GetBoolean());
            Assert.Equal(200, d.GetProperty("responseCode").GetInt32());
        });
    }

    [Fact]
    public async Task Scan_events_of_a_code_deleted_before_their_delivery_are_dropped_and_its_code_deleted_is_sent()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async n =>
        {
            if (n == 0)
            {
                await release.Task.WaitAsync(TimeSpan.FromSeconds(60)); // the scans queue behind this request
            }

            return 200;
        };
        var (owner, endpoint) = await RegisterAsync(receiver);
        var id = endpoint.GetProperty("id").GetInt64();
        var kept = (await owner.CreateCodeAsync("https://example.org/kept")).GetProperty("code").GetString()!;
        var erased = (await owner.CreateCodeAsync("https://example.org/erased")).GetProperty("code").GetString()!;
        await receiver.WaitForAsync(() => receiver.Arrived >= 1, "the first delivery, held");
        await ScanSequentiallyAsync(_host.Http, kept, 3);
        await ScanSequentiallyAsync(_host.Http, erased, 4);
        await _host.FlushAsync();
        await WaitForCountAsync(Pending + " AND event_type = 'scan'", 7, "7 scan events queued", id);
        using (var delete = await owner.DeleteAsync($"/api/codes/{erased}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        release.SetResult();
        await receiver.WaitForAsync(() => TypesOf(receiver, erased).Contains("code.deleted") && TypesOf(receiver, kept).Count(t => t == "scan") == 3, "kept's scans and erased's code.deleted");
        Assert.Equal(0, await PendingAfterDrainAsync(id));
        Assert.Equal(["code.created", "code.deleted"], TypesOf(receiver, erased).Distinct().ToArray());
        // The scan events that were sent are built from the scan rows: the code and the scan's own fields.
        var scan = receiver.Delivered.First(e => e.GetProperty("type").GetString() == "scan");
        Assert.Equal(kept, scan.GetProperty("data").GetProperty("code").GetString());
        Assert.Equal(scan.GetProperty("id").GetString(), scan.GetProperty("data").GetProperty("scanId").GetString());
    }

    /// <summary>Waits until the silo's code.gone sweep has run <paramref name="count"/> more times.</summary>
    private async Task WaitForSweepsAsync(int count)
    {
        var delivery = _host.Services.GetRequiredService<WebhookDelivery>();
        var target = delivery.GoneSweeps + count;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (delivery.GoneSweeps < target)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{count} code.gone sweeps within 30 s");
            await Polling.Pause(50);
        }
    }

    private static async Task WaitForLoadAsync(InvexQr.Silo.Hosting.SiloLoad load, bool saturated)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (load.Saturated != saturated)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{(saturated ? "saturated" : "free")} within 10 s (pressure {load.Pressure:F2})");
            await Polling.Pause(50);
        }
    }

    [Fact]
    public async Task While_the_cores_are_saturated_workers_rest_between_deliveries_and_every_event_still_goes_out()
    {
        var load = _host.Services.GetRequiredService<InvexQr.Silo.Hosting.SiloLoad>();
        var delivery = _host.Services.GetRequiredService<WebhookDelivery>();
        await using var receiver = await WebhookReceiver.StartAsync();
        var (owner, endpoint) = await RegisterAsync(receiver);
        var code = (await owner.CreateCodeAsync("https://example.org/saturated")).GetProperty("code").GetString()!;

        // Some task waits for a core all the time: the pressure file's stalled total grows as fast as the clock.
        using var saturating = new CancellationTokenSource();
        var scanned = 0;
        var writer = Task.Run(async () =>
        {
            var started = Stopwatch.StartNew();
            while (!saturating.IsCancellationRequested)
            {
                await File.WriteAllTextAsync(PressureFile, PressureLine((long)started.Elapsed.TotalMicroseconds + 1_000_000_000));
                await Task.Delay(20);
            }
        });
        try
        {
            await WaitForLoadAsync(load, saturated: true);

            // Scans keep coming (the workers yield to scans, not to pressure alone) until 100 were delivered.
            var rested = delivery.Rested;
            using var stopScanning = new CancellationTokenSource();
            var scanning = Task.Run(async () =>
            {
                while (!stopScanning.IsCancellationRequested)
                {
                    await ScanSequentiallyAsync(_host.Http, code, 1);
                    scanned++;
                    await Task.Delay(10);
                }
            });
            await receiver.WaitForAsync(() => receiver.Delivered.Count(e => e.GetProperty("type").GetString() == "scan") >= 100, "100 scans delivered while saturated");
            await stopScanning.CancelAsync();
            await scanning;
            await _host.FlushAsync();
            Assert.True(delivery.Rested > rested, $"rested {delivery.Rested - rested} while saturated");
            Assert.Equal(0, await PendingAfterDrainAsync(endpoint.GetProperty("id").GetInt64()));
            // At least once, each scan once: resting changes when, not what.
            var ids = receiver.Delivered.Where(e => e.GetProperty("type").GetString() == "scan").Select(e => e.GetProperty("id").GetString()).ToList();
            Assert.Equal(scanned, ids.Distinct().Count());
        }
        finally
        {
            await saturating.CancelAsync();
            await writer;
        }

        // Pressure gone (the total stops growing): the silo is free again within a few samples.
        await WaitForLoadAsync(load, saturated: false);

        var restedWhenFree = delivery.Rested;
        await ScanSequentiallyAsync(_host.Http, code, 30);
        await _host.FlushAsync();
        await receiver.WaitForAsync(() => receiver.Delivered.Count(e => e.GetProperty("type").GetString() == "scan") >= scanned + 30, "30 more scans once free");
        Assert.Equal(restedWhenFree, delivery.Rested);
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
        // Backoff from each failure: at least 0.3 s, then at least 0.6 s (RetryBaseSeconds × 2^(n-1), + up to 20 %)
        // between the arrivals. A loaded machine only makes the waits longer.
        var firstWait = attempts[1].ArrivedAt - attempts[0].ArrivedAt;
        var secondWait = attempts[2].ArrivedAt - attempts[1].ArrivedAt;
        Assert.True(firstWait >= TimeSpan.FromSeconds(0.3), $"first retry after {firstWait}");
        Assert.True(secondWait >= TimeSpan.FromSeconds(0.6), $"second retry after {secondWait} (the first after {firstWait})");
        // The retried batch is the same events (same ids), in the same order.
        Assert.Equal(
            attempts[0].Events.Select(e => e.GetProperty("id").GetString()),
            attempts[2].Events.Take(attempts[0].Events.Count()).Select(e => e.GetProperty("id").GetString()));
        var delivered = receiver.Delivered;
        Assert.Equal(11, delivered.Select(e => e.GetProperty("id").GetString()).Distinct().Count());
        Assert.Equal(11, delivered.Count);

        // The receiver answered before the silo recorded the delivery: the log has all three right after.
        await WaitForCountAsync("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND succeeded", 1, "the successful delivery logged", id);
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
        // The first attempt is held until the test has queued everything, so the endpoint is disabled after that.
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async n =>
        {
            if (n == 0)
            {
                await queued.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }

            return 500;
        };
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
        await WaitForCountAsync(Pending, 6, "code.created and 5 scans queued", id);
        queued.SetResult();

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
        Assert.Equal(0, await _host.ScalarAsync(Pending + " AND qr_code_id = (SELECT id FROM qr_codes WHERE code = $2)", id, untagged));

        // Nothing is sent to a disabled endpoint, even once its next attempt is due, and nothing new is queued for it:
        // a second endpoint gets a new tagged code's event, while the disabled one, due before it, gets nothing.
        var due = state.GetProperty("nextAttemptAt").GetDateTimeOffset();
        while (DateTimeOffset.UtcNow <= due && await Polling.Pause(50))
        {
        }

        await using var other = await WebhookReceiver.StartAsync();
        using (var second = await owner.PostAsJsonAsync("/api/webhooks", new { url = other.Url, events = new[] { "code.created" } }))
        {
            Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        }

        using (var created = await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/t2", tags = new[] { "campaign" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await other.WaitForAsync(() => other.Delivered.Count == 1, "the second endpoint's code.created");
        Assert.Equal(3, receiver.Arrived);
        Assert.Equal(6, await _host.ScalarAsync(Pending, id));

        receiver.Respond = _ => Task.FromResult(204);
        using (var enable = await owner.PatchAsync($"/api/webhooks/{id}", JsonContent.Create(new { enabled = true })))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        }

        await receiver.WaitForAsync(() => receiver.Delivered.Count == 6, "the 6 waiting events");
        Assert.All(receiver.Delivered, e => Assert.Equal("hook-tagged-" + id, e.GetProperty("data").GetProperty("code").GetString()));
        // The receiver answered before the silo recorded the success: the endpoint shows it right after.
        JsonElement after;
        var recordedBy = DateTime.UtcNow.AddSeconds(30);
        while ((after = await owner.GetFromJsonAsync<JsonElement>($"/api/webhooks/{id}")).GetProperty("pendingEvents").GetInt64() > 0
               && DateTime.UtcNow < recordedBy && await Polling.Pause(50))
        {
        }

        Assert.Equal(0, after.GetProperty("pendingEvents").GetInt64());
        Assert.Equal(0, after.GetProperty("consecutiveFailures").GetInt32());
    }

    [Fact]
    public async Task Erasing_an_owner_stops_its_webhooks_at_once_and_leaves_no_endpoint_event_delivery_or_notice()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async _ =>
        {
            await queued.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return 503;
        };
        var name = "hooks-erased-" + Guid.NewGuid().ToString("N")[..8];
        var key = await _host.CreateOwnerAsync(name);
        var ownerId = await _host.ScalarAsync("SELECT id FROM owners WHERE name = $1", name);
        using var owner = _host.CreateClient(key);
        using (var register = await owner.PostAsJsonAsync("/api/webhooks", new { url = receiver.Url, events = new[] { "scan", "code.created", "code.deleted", "code.gone" } }))
        {
            Assert.Equal(HttpStatusCode.Created, register.StatusCode);
        }

        var id = await _host.ScalarAsync("SELECT id FROM webhook_endpoints WHERE owner_id = $1", ownerId);
        var codes = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            codes.Add((await owner.CreateCodeAsync($"https://example.org/erased/{i}")).GetProperty("code").GetString()!);
        }

        // A code is used up (a code.gone notice), events wait while the first attempt is held, then the receiver fails
        // and the endpoint is disabled after 3 failures; re-enabled just before the erasure, it is active with events
        // waiting when the erasure begins.
        using (var limit = await owner.PatchAsync($"/api/codes/{codes[0]}", JsonContent.Create(new { maxScans = 2 })))
        {
            Assert.Equal(HttpStatusCode.OK, limit.StatusCode);
        }

        foreach (var code in codes)
        {
            await ScanSequentiallyAsync(_host.Http, code, 2);
        }

        await _host.FlushAsync();
        await WaitForCountAsync("SELECT count(*) FROM webhook_gone_notices n JOIN qr_codes c ON c.id = n.qr_code_id WHERE c.owner_id = $1", 1, "the code.gone notice", ownerId);
        await WaitForCountAsync(Pending, 31, "code.created ×10, scans ×20 and code.gone waiting", id);
        queued.SetResult();
        await WaitForCountAsync("SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND status = 'disabled'", 1, "the endpoint disabled", id);
        Assert.True(await _host.ScalarAsync("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1", id) >= 3);
        receiver.Respond = _ => Task.FromResult(200);
        var arrivedBefore = receiver.Arrived;
        using (var enable = await owner.PatchAsync($"/api/webhooks/{id}", JsonContent.Create(new { enabled = true })))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        }

        using (var erase = await _host.Http.DeleteAsync($"/api/owners/{ownerId}"))
        {
            Assert.True(erase.StatusCode == HttpStatusCode.NoContent, await erase.Content.ReadAsStringAsync());
        }

        foreach (var table in new[] { "webhook_endpoints WHERE id = $1", "webhook_outbox WHERE endpoint_id = $1", "webhook_deliveries WHERE endpoint_id = $1" })
        {
            Assert.True(await _host.ScalarAsync("SELECT count(*) FROM " + table, id) == 0, table);
        }

        Assert.Equal(0, await _host.ScalarAsync("SELECT count(*) FROM webhook_gone_notices WHERE qr_code_id NOT IN (SELECT id FROM qr_codes)"));
        // The endpoint went before the codes: none of the 10 code.deleted was queued, so none can have been sent.
        Assert.DoesNotContain(receiver.BodiesByArrival.Where(kv => kv.Key >= arrivedBefore), kv => System.Text.Encoding.UTF8.GetString(kv.Value).Contains("code.deleted"));
    }

    [Fact]
    public async Task An_owner_being_erased_can_register_no_endpoint()
    {
        var name = "hooks-erasing-" + Guid.NewGuid().ToString("N")[..8];
        using var owner = _host.CreateClient(await _host.CreateOwnerAsync(name));
        await _host.ScalarAsync("WITH m AS (UPDATE owners SET erasing_since = now() WHERE name = $1 RETURNING 1) SELECT count(*) FROM m", name);
        using var response = await owner.PostAsJsonAsync("/api/webhooks", new { url = "http://127.0.0.1:9/hook", events = new[] { "scan" } });
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("being erased", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, await _host.ScalarAsync("SELECT count(*) FROM webhook_endpoints e JOIN owners o ON o.id = e.owner_id WHERE o.name = $1", name));
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
