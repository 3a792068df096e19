using System.Net;
using System.Text.Json;
using InvexQr.Abstractions;
using InvexQr.Gateway.Live;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace InvexQr.IntegrationTests.Http;

/// <summary>The live view's event streams over HTTP, read while scanning: a gateway with its silo in process, a real PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class LiveViewTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private const string IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres, new Dictionary<string, string?>
    {
        ["Network:TrustedProxies:0"] = "127.0.0.1",
        ["Live:MaxStreamsPerOwner"] = "3",
        ["Live:HeartbeatSeconds"] = "1",
    });

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Scans_arrive_on_the_code_stream_with_totals_rate_and_locations_but_no_address()
    {
        var http = await _deployment.CreateOwnerClientAsync("live-watcher");
        var code = (await http.CreateCodeAsync("https://example.org/live")).GetProperty("code").GetString()!;
        using (var before = await _deployment.Http.ScanFromAsync(code, "81.2.69.142", IPhone))
        {
            Assert.Equal(HttpStatusCode.Found, before.StatusCode);
        }

        await using var stream = await SseStream.OpenAsync(http, $"/api/codes/{code}/live");
        var hello = await stream.NextAsync("hello");
        Assert.Equal(1, hello.GetProperty("total").GetInt64());
        await stream.WaitUntilWatchedAsync(_deployment, http, code);

        var started = DateTime.UtcNow;
        for (var i = 0; i < 5; i++)
        {
            using var scan = await _deployment.Http.ScanFromAsync(code, "81.2.69.142", IPhone);
            Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        }

        var seen = await stream.ScansUntilAsync(stream.Probes + 5);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), $"5 scans took {DateTime.UtcNow - started} to show");
        var last = seen[^1];
        Assert.Equal(1 + stream.Probes + 5, last.GetProperty("total").GetInt64());
        Assert.True(seen.Max(e => e.GetProperty("rate").GetDouble()) > 0);
        var recent = seen.SelectMany(e => e.GetProperty("recent").EnumerateArray()).ToList();
        Assert.Contains(recent, r => r.GetProperty("country").GetString() == "GB" && r.GetProperty("city").ValueKind == JsonValueKind.String
            && r.GetProperty("latitude").ValueKind == JsonValueKind.Number);
        Assert.All(recent, r => Assert.Equal(code, r.GetProperty("code").GetString()));
        Assert.DoesNotContain("81.2.69", stream.Raw);
        // No property named for an address (a property name, not a substring: a random code may start with "ip").
        Assert.DoesNotMatch(new System.Text.RegularExpressions.Regex(@"""(ip[a-z_]*|[a-z_]*address[a-z_]*)""\s*:", System.Text.RegularExpressions.RegexOptions.IgnoreCase), stream.Raw);

        // Once scans stop, the rate falls back to 0 without any new scan.
        var calm = await stream.NextMatchingAsync("scans", e => e.GetProperty("rate").GetDouble() == 0, TimeSpan.FromSeconds(5));
        Assert.Equal(0, calm.GetProperty("scans").GetInt64());
    }

    [Fact]
    public async Task The_account_stream_sees_every_code_of_its_owner_and_no_other_owners_scans()
    {
        var mine = await _deployment.CreateOwnerClientAsync("live-account");
        var theirs = await _deployment.CreateOwnerClientAsync("live-other");
        var first = (await mine.CreateCodeAsync("https://example.org/one")).GetProperty("code").GetString()!;
        var second = (await mine.CreateCodeAsync("https://example.org/two")).GetProperty("code").GetString()!;
        var other = (await theirs.CreateCodeAsync("https://example.org/other")).GetProperty("code").GetString()!;

        await using var stream = await SseStream.OpenAsync(mine, "/api/live");
        Assert.Equal(JsonValueKind.Null, (await stream.NextAsync("hello")).GetProperty("code").ValueKind);
        await stream.WaitUntilWatchedAsync(_deployment, mine, first);

        foreach (var code in new[] { other, other, first, second, second })
        {
            using var scan = await _deployment.Http.ScanFromAsync(code, "89.160.20.112", IPhone);
            Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        }

        var seen = await stream.ScansUntilAsync(stream.Probes + 3);
        Assert.Equal(stream.Probes + 3, seen[^1].GetProperty("sinceOpen").GetInt64());
        var codes = seen.SelectMany(e => e.GetProperty("recent").EnumerateArray()).Select(r => r.GetProperty("code").GetString()).ToHashSet();
        Assert.Contains(second, codes);
        Assert.DoesNotContain(other, codes);
    }

    [Fact]
    public async Task An_owner_cannot_watch_another_owners_code_and_strangers_cannot_watch_at_all()
    {
        var a = await _deployment.CreateOwnerClientAsync("live-owner-a");
        var b = await _deployment.CreateOwnerClientAsync("live-owner-b");
        var code = (await a.CreateCodeAsync("https://example.org/a-only")).GetProperty("code").GetString()!;

        using var stolen = await b.GetAsync($"/api/codes/{code}/live", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.NotFound, stolen.StatusCode);
        Assert.Equal("application/problem+json", stolen.Content.Headers.ContentType?.MediaType);

        using var anonymous = await _deployment.CreateClient().GetAsync($"/api/codes/{code}/live", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        using var anonymousAccount = await _deployment.CreateClient().GetAsync("/api/live", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousAccount.StatusCode);
        using var unknown = await a.GetAsync("/api/codes/no-such-code-xyz/live", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Streams_beyond_the_owner_limit_get_429_and_a_closed_stream_frees_its_slot()
    {
        var http = await _deployment.CreateOwnerClientAsync("live-limits");
        var code = (await http.CreateCodeAsync("https://example.org/limits")).GetProperty("code").GetString()!;
        var open = new List<SseStream>();
        for (var i = 0; i < 3; i++)
        {
            open.Add(await SseStream.OpenAsync(http, i % 2 == 0 ? "/api/live" : $"/api/codes/{code}/live"));
        }

        using (var refused = await http.GetAsync("/api/live", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Live:MaxStreamsPerOwner", await refused.Content.ReadAsStringAsync());
        }

        // A quiet stream gets heartbeats (Live:HeartbeatSeconds = 1 here).
        await open[0].NextAsync("hello");
        await open[0].HeartbeatAsync(TimeSpan.FromSeconds(5));

        var before = _deployment.Get<LiveFeed>().Open;
        await open[0].DisposeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_deployment.Get<LiveFeed>().Open >= before && DateTime.UtcNow < deadline && await Polling.Pause(50))
        {
        }

        await using var again = await SseStream.OpenAsync(http, "/api/live");
        await again.NextAsync("hello");
        foreach (var stream in open.Skip(1))
        {
            await stream.DisposeAsync();
        }
    }

    [Fact]
    public async Task Scans_appear_on_the_open_code_page_within_two_seconds_without_a_reload()
    {
        var key = await _deployment.CreateOwnerAsync("live-browser");
        var http = _deployment.CreateClient(key);
        var code = (await http.CreateCodeAsync("https://example.org/live-page")).GetProperty("code").GetString()!;
        await using var chromium = await HeadlessChromium.LaunchAsync();
        var context = await chromium.NewContextAsync(new() { BaseURL = _deployment.BaseAddress.ToString(), ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);

        await page.GotoAsync("/");
        await page.GetByLabel("API key").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Your codes" }).WaitForAsync();
        // The account page streams too.
        await page.WaitForFunctionAsync("() => document.getElementById('live-state')?.textContent === '(live)'");

        await page.EvaluateAsync($"() => {{ window.__sameDocument = 42; location.hash = '#/codes/{code}'; }}");
        await page.WaitForFunctionAsync("() => document.getElementById('code-title') && document.getElementById('live-state')?.textContent === '(live)'");
        // One scan that shows means the watch has reached the silo (a hub round, about a second, not part of the 2 s).
        var probes = 0;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            using (var probe = await _deployment.Http.ScanFromAsync(code, "8.8.8.8", IPhone))
            {
                Assert.Equal(HttpStatusCode.Found, probe.StatusCode);
            }

            probes++;
            try
            {
                await page.WaitForFunctionAsync("() => Number(document.querySelector('section.live').dataset.liveScans) > 0", null, new() { Timeout = 1500 });
                break;
            }
            catch (TimeoutException)
            {
            }
        }

        // A probe scanned before the watch reached the silo never shows, and the last one may still be on its way:
        // count from what the page settles on (unchanged for a second), not from the probes sent.
        var shown = await LiveScansAsync(page);
        for (var stableSince = DateTime.UtcNow; DateTime.UtcNow - stableSince < TimeSpan.FromSeconds(1);)
        {
            await Task.Delay(200);
            if (await LiveScansAsync(page) is var now && now != shown)
            {
                (shown, stableSince) = (now, DateTime.UtcNow);
            }
        }

        Assert.True(shown > 0 && shown <= probes, $"{shown} probe scans showed of {probes} sent");

        // Three scans must show within 2 s. Two rounds at most: on a machine whose cores the rest of the suite keeps
        // busy, one round can miss by a scheduling delay; both missing is a failure.
        var expected = shown;
        var times = new List<TimeSpan>();
        for (var round = 0; round < 2 && (times.Count == 0 || times[^1] >= TimeSpan.FromSeconds(2)); round++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < 3; i++)
            {
                using var scan = await _deployment.Http.ScanFromAsync(code, "81.2.69.142", IPhone);
                Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
            }

            expected += 3;
            await page.WaitForFunctionAsync($"() => Number(document.querySelector('section.live').dataset.liveScans) === {expected}", null, new() { Timeout = 10_000 });
            times.Add(clock.Elapsed);
        }

        Assert.True(times[^1] < TimeSpan.FromSeconds(2), $"the scans took {string.Join(" and then ", times)} to show");
        Assert.Equal(42, await page.EvaluateAsync<int>("() => window.__sameDocument"));
        Assert.Equal(expected.ToString(System.Globalization.CultureInfo.InvariantCulture), await page.Locator("#live-count").TextContentAsync());
        Assert.Contains("United Kingdom", await page.Locator("#live-latest").TextContentAsync());
        // The map pulses where the scans came from; the rate chart has points.
        await page.WaitForFunctionAsync("() => echarts.getInstanceByDom(document.querySelector('[data-chart=\"live-map\"]'))?.getOption().series[0].data.length > 0");
        Assert.True(await page.EvaluateAsync<int>("() => echarts.getInstanceByDom(document.querySelector('[data-chart=\"live-rate\"]')).getOption().series[0].data.length") > 0);
        Assert.Empty(await HeadlessChromium.CspViolationsAsync(page));
        Assert.Empty(errors);
        Directory.CreateDirectory(DashboardBrowserTests.ScreenshotDir);
        await page.ScreenshotAsync(new() { Path = Path.Combine(DashboardBrowserTests.ScreenshotDir, "live-view.png"), FullPage = true });
    }

    private static Task<int> LiveScansAsync(IPage page) =>
        page.EvaluateAsync<int>("() => Number(document.querySelector('section.live').dataset.liveScans)");

    [Fact]
    public void A_viewer_that_does_not_read_keeps_a_bounded_update_whatever_it_is_offered()
    {
        var viewer = new LiveViewer(new LiveTopic(1, "hot"), TimeProvider.System);
        var scan = new LiveScan("hot", DateTimeOffset.UtcNow, "GB", "London", 51.5, -0.1);
        for (var i = 0; i < 100_000; i++)
        {
            viewer.Offer(new LiveDelta(viewer.Topic, 3, [scan, scan, scan]), gap: false);
        }

        var update = viewer.Take();
        Assert.Equal(300_000, update.Scans);
        Assert.Equal(LiveViewer.MaxRecent, update.Recent.Length);
        Assert.Equal(0, viewer.Take().Scans);
    }

    /// <summary>
    /// An open <c>text/event-stream</c> response. A background reader parses it into events (heartbeats as events
    /// without a name); waits are on that queue, since cancelling a read would close the connection.
    /// </summary>
    private sealed class SseStream : IAsyncDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly Stream _body;
        private readonly System.Threading.Channels.Channel<(string? Name, string? Data)> _events =
            System.Threading.Channels.Channel.CreateUnbounded<(string?, string?)>();
        private readonly System.Text.StringBuilder _raw = new();
        private readonly Task _pump;

        private SseStream(HttpResponseMessage response, Stream body)
        {
            _response = response;
            _body = body;
            _pump = Task.Run(PumpAsync);
        }

        public string Raw
        {
            get
            {
                lock (_raw)
                {
                    return _raw.ToString();
                }
            }
        }

        /// <summary>Scans sent by <see cref="WaitUntilWatchedAsync"/> to learn that the watch reached the silo, as the stream counted them.</summary>
        public int Probes { get; private set; }

        public static async Task<SseStream> OpenAsync(HttpClient http, string path)
        {
            var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                // Only an error answer has an end to read.
                Assert.Fail($"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }

            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            return new SseStream(response, await response.Content.ReadAsStreamAsync());
        }

        private async Task PumpAsync()
        {
            try
            {
                using var reader = new StreamReader(_body);
                string? name = null;
                var data = new System.Text.StringBuilder();
                while (await reader.ReadLineAsync() is { } line)
                {
                    lock (_raw)
                    {
                        _raw.Append(line).Append('\n');
                    }

                    if (line.StartsWith(':'))
                    {
                        _events.Writer.TryWrite((null, null));
                    }
                    else if (line.Length == 0 && data.Length > 0)
                    {
                        _events.Writer.TryWrite((name, data.ToString()));
                        (name, data) = (null, new System.Text.StringBuilder());
                    }
                    else if (line.StartsWith("event: ", StringComparison.Ordinal))
                    {
                        name = line["event: ".Length..];
                    }
                    else if (line.StartsWith("data: ", StringComparison.Ordinal))
                    {
                        data.Append(line["data: ".Length..]);
                    }
                }

                _events.Writer.TryComplete(new EndOfStreamException("the stream ended"));
            }
            catch (Exception ex)
            {
                _events.Writer.TryComplete(ex);
            }
        }

        private async Task<(string? Name, string? Data)> ReadAsync(CancellationToken cancellationToken) =>
            await _events.Reader.ReadAsync(cancellationToken);

        public Task<JsonElement> NextAsync(string name) => NextMatchingAsync(name, _ => true, TimeSpan.FromSeconds(10));

        public async Task<JsonElement> NextMatchingAsync(string name, Func<JsonElement, bool> match, TimeSpan within)
        {
            using var timeout = new CancellationTokenSource(within);
            while (true)
            {
                var (event_, data) = await ReadAsync(timeout.Token);
                if (event_ == name && JsonDocument.Parse(data!).RootElement.Clone() is var element && match(element))
                {
                    return element;
                }
            }
        }

        public async Task HeartbeatAsync(TimeSpan within)
        {
            using var timeout = new CancellationTokenSource(within);
            while ((await ReadAsync(timeout.Token)).Name is not null)
            {
            }
        }

        /// <summary>The <c>scans</c> events until they add up to <paramref name="count"/> scans since the stream opened (10 s at most).</summary>
        public async Task<List<JsonElement>> ScansUntilAsync(long count)
        {
            var events = new List<JsonElement>();
            while (events.Count == 0 || events[^1].GetProperty("sinceOpen").GetInt64() < count)
            {
                events.Add(await NextMatchingAsync("scans", e => e.GetProperty("scans").GetInt64() > 0, TimeSpan.FromSeconds(10)));
            }

            Assert.Equal(count, events[^1].GetProperty("sinceOpen").GetInt64());
            return events;
        }

        /// <summary>
        /// The watch takes a hub round (about a second) to reach the silo: a scan made before that is in the totals
        /// only. Scans <paramref name="code"/> until one shows on the stream, so that what the test scans next is watched.
        /// </summary>
        public async Task WaitUntilWatchedAsync(GatewayHost host, HttpClient owner, string code)
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (DateTime.UtcNow < deadline)
            {
                using (var probe = await host.Http.ScanFromAsync(code, "8.8.8.8", IPhone))
                {
                    Assert.Equal(HttpStatusCode.Found, probe.StatusCode);
                }

                try
                {
                    var shown = await NextMatchingAsync("scans", e => e.GetProperty("scans").GetInt64() > 0, TimeSpan.FromMilliseconds(1500));
                    Probes = (int)shown.GetProperty("sinceOpen").GetInt64();
                    return;
                }
                catch (OperationCanceledException)
                {
                }
            }

            Assert.Fail("no probe scan showed on the live stream within 15 s");
        }

        public async ValueTask DisposeAsync()
        {
            _response.Dispose();
            await _pump.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
