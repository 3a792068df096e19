using System.Diagnostics;
using System.Net;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// The changes operators make on Kubernetes all the time, under a steady scan load through two gateways: every silo
/// restarted one after another (a StatefulSet rolling update: a pod is stopped, then its replacement started), every
/// gateway replaced (a Deployment rolling update: the new pod first, then the old one leaves the Service and gets
/// SIGTERM), then silos scaled 3 → 5 → 2.
/// </summary>
[Collection(RollingCollection.Name)]
public sealed class RollingChangeTests(PostgresServer postgres)
{
    private const int Codes = 30;
    private const int ScansPerSecond = 100;

    /// <summary>
    /// Both durabilities at once, each on a cluster of its own: the test mostly waits for processes to start and
    /// stop, so two side by side take little longer than one.
    /// </summary>
    [Fact]
    public async Task Rolling_restarts_and_scaling_under_load_keep_redirecting_and_lose_no_acknowledged_scan()
    {
        await Task.WhenAll(RunAsync("Buffered"), RunAsync("Committed"));
    }

    private async Task RunAsync(string durability)
    {
        var clock = Stopwatch.StartNew();
        var siloSettings = new Dictionary<string, string> { ["ScanSink__Durability"] = durability };
        await using var deployment = await Deployment.StartAsync(postgres, silos: 3, siloSettings: siloSettings);
        Console.WriteLine($"[{durability}] {clock.Elapsed.TotalSeconds:F0} s: 3 silos and a gateway ready");
        var startingGateway = deployment.StartExtraGatewayAsync();
        var codes = new List<string>();
        for (var i = 0; i < Codes; i++)
        {
            codes.Add((await deployment.Http.CreateCodeAsync($"https://example.org/rolling/{i}")).GetProperty("code").GetString()!);
        }

        Console.WriteLine($"[{durability}] {clock.Elapsed.TotalSeconds:F0} s: {Codes} codes created");
        var secondGateway = await startingGateway;

        var started = clock.Elapsed;
        var pool = new GatewayPool([deployment.Gateway.BaseAddress, secondGateway.BaseAddress], ScansPerSecond);
        using var http = new HttpClient(pool) { BaseAddress = deployment.Gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var load = new RelayedLoad(http, codes);
        await load.Current.WaitForRedirectsAsync(300);
        var steps = new List<string>();
        async Task Step(string what)
        {
            steps.Add($"{clock.Elapsed.TotalSeconds:F0} s ({DateTime.UtcNow:HH:mm:ss}) {what}: {load.Redirects} redirects; code grains per silo: {await Placement(deployment)}");
            Console.WriteLine($"[{durability}] {steps[^1]}");
            await load.RelayAsync(); // ScanLoad stops itself after two minutes: a fresh one takes over each phase
        }

        await Step("load on");

        // Every silo, one after the other: graceful stop, then its replacement joins.
        foreach (var silo in deployment.Silos.ToList())
        {
            var stop = await Timed(silo.TerminateAsync());
            Assert.True(silo.ExitCode == 0, $"{silo.Name} exited with {silo.ExitCode}:\n{silo.LoggedErrors}");
            var start = await Timed(deployment.StartSiloAsync(siloSettings));
            var again = await Timed(AllCodesRedirectAgainAsync(load, codes));
            await Step($"{silo.Name} replaced (stop {stop}, start {start}, every code again {again})");
        }

        // Every gateway: its replacement first, then the old one leaves the pool and gets SIGTERM.
        foreach (var gateway in new[] { deployment.Gateway, secondGateway })
        {
            var starting = deployment.StartExtraGatewayAsync();
            var start = await Timed(starting);
            var replacement = await starting;
            pool.Add(replacement.BaseAddress);
            pool.Remove(gateway.BaseAddress);
            var stop = await Timed(gateway.TerminateAsync());
            Assert.True(gateway.ExitCode == 0, $"{gateway.Name} exited with {gateway.ExitCode}:\n{gateway.LoggedErrors}");
            var again = await Timed(AllCodesRedirectAgainAsync(load, codes));
            await Step($"{gateway.Name} replaced by {replacement.Name} (start {start}, stop {stop}, every code again {again})");
        }

        var scaleOut = await Timed(Task.WhenAll(deployment.StartSiloAsync(siloSettings), deployment.StartSiloAsync(siloSettings)));
        await AllCodesRedirectAgainAsync(load, codes);
        await Step($"scaled to 5 silos (start {scaleOut})");

        // Scale-in removes the highest ordinals: the two silos just added and the last restarted one.
        var leaving = Running(deployment).TakeLast(3).ToList();
        await Task.WhenAll(leaving.Select(s => s.TerminateAsync()));
        Assert.All(leaving, s => Assert.True(s.ExitCode == 0, $"{s.Name} exited with {s.ExitCode}:\n{s.LoggedErrors}"));
        await AllCodesRedirectAgainAsync(load, codes);
        await Step("scaled to 2 silos");
        await load.StopAsync();
        var loadFor = clock.Elapsed - started;

        // Every answer a 302, or a 503 with Retry-After (the phone tries again) only where a scan call to a stopping silo
        // timed out and the gateway cannot know whether it ran: at most one answer in 1,000. They come from the scale-in,
        // where silos ready for seconds stop at once: a gateway that has only just learnt of such a silo connects to it
        // after its SIGTERM, and Orleans drops the rejection of the calls sent over that connection (3–8 per run of
        // 11,000–17,000). Nothing else: no 5xx without Retry-After, no connection refused by a stopping gateway, no 404
        // or 410 for a code whose grain moved.
        var unavailable = load.Count(HttpStatusCode.ServiceUnavailable);
        var why = string.Join("\n",
            [load.Describe(), load.DescribeUnexpected(), .. steps,
             .. deployment.Gateways.SelectMany(g => g.Output.Split('\n').Where(l => l.Contains("Cluster unavailable")).Take(5).Select(l => $"{g.Name}: {l}"))]);
        Assert.True(load.Statuses.All(s => s is HttpStatusCode.Found or HttpStatusCode.ServiceUnavailable), why);
        Assert.True(unavailable * 1_000 <= load.Redirects, why);
        Assert.True(unavailable == 0 || load.DescribeUnexpected().Contains("Retry-After: 1"), why);

        // Every acknowledged scan stored, once: graceful stops drain the sinks in both modes.
        long lost = 0, stored = 0;
        foreach (var code in codes)
        {
            var redirects = load.RedirectsOf(code);
            var rows = await deployment.WaitForScanRowsAsync(code, redirects);
            lost += Math.Max(0, redirects - rows);
            stored += rows;
            Assert.True(rows <= redirects + load.FailuresOf(code), $"{code}: {rows} rows for {redirects} redirects");
        }

        Assert.Equal(0, await deployment.ScalarAsync("SELECT count(*) - count(DISTINCT id) FROM qr_scans"));
        var (exit, reconcile) = await deployment.ReconcileTodayAsync();
        Assert.True(exit == 0, reconcile);

        var (worstCodeGap, worstCode) = pool.WorstCodeGap;
        var summary = (
            $"Rolling changes ({durability}): {load.Redirects} redirects in {loadFor.TotalSeconds:F0} s of load, {stored} stored, {lost} lost; " +
            $"{unavailable} answered 503; worst gap between two redirects {pool.WorstGap.TotalMilliseconds:F0} ms, worst for one code {worstCodeGap.TotalMilliseconds:F0} ms ({worstCode}); " +
            $"{pool.TriedElsewhere} requests refused by a stopping gateway and sent to the other; test took {clock.Elapsed.TotalSeconds:F0} s\n  " +
            string.Join("\n  ", steps));
        Console.WriteLine(summary);
        Assert.Equal(0, lost);
        // Redirects kept answering: never 5 s (the gateway's response timeout) without one. One code's longest wait
        // (its grain moving off a stopping silo) is printed: every one of its answers was still a 302.
        Assert.True(pool.WorstGap < TimeSpan.FromSeconds(5), $"no redirect at all for {pool.WorstGap.TotalMilliseconds:F0} ms");
    }

    /// <summary>How long a step took, e.g. "4.2 s": the steps' parts are printed, so a slow run shows what was slow.</summary>
    private static async Task<string> Timed(Task step)
    {
        var clock = Stopwatch.StartNew();
        await step;
        return $"{clock.Elapsed.TotalSeconds:F1} s";
    }

    private static IEnumerable<ServiceProcess> Running(Deployment deployment) => deployment.Silos.Where(s => !s.HasExited);

    /// <summary>Waits until every code has answered a 302 again since now: wherever its grain went, it serves.</summary>
    private static async Task AllCodesRedirectAgainAsync(RelayedLoad load, IReadOnlyList<string> codes)
    {
        var since = codes.ToDictionary(c => c, c => load.RedirectsOf(c));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (codes.Any(c => load.RedirectsOf(c) <= since[c]) && DateTime.UtcNow < deadline && await Polling.Pause(50))
        {
        }

        var stuck = codes.Where(c => load.RedirectsOf(c) <= since[c]).ToList();
        Assert.True(stuck.Count == 0, $"{stuck.Count} codes did not redirect again within 30 s: {load.Describe()}");
    }

    /// <summary>
    /// A steady load over the whole test from a relay of <see cref="ScanLoad"/>s (each stops itself after two minutes):
    /// the next one starts before the last one stops, and their counts add up.
    /// </summary>
    private sealed class RelayedLoad(HttpClient http, IReadOnlyList<string> codes)
    {
        private readonly List<ScanLoad> _finished = [];

        public ScanLoad Current { get; private set; } = new(http, codes, workers: 8);

        private IEnumerable<ScanLoad> All => _finished.Append(Current);

        public int Redirects => All.Sum(l => l.Redirects);

        public async Task RelayAsync()
        {
            var previous = Current;
            Current = new ScanLoad(http, codes, workers: 8);
            await previous.StopAsync();
            _finished.Add(previous);
        }

        public Task StopAsync() => Current.StopAsync();

        public int RedirectsOf(string code) => All.Sum(l => l.RedirectsByCode.GetValueOrDefault(code));

        public int FailuresOf(string code) => All.Sum(l => l.FailuresByCode.GetValueOrDefault(code));

        public IReadOnlyCollection<HttpStatusCode> Statuses => All.SelectMany(l => l.ByStatus.Keys).ToHashSet();

        public int Count(HttpStatusCode status) => All.Sum(l => l.ByStatus.GetValueOrDefault(status));

        public string Describe() => string.Join(", ", All.SelectMany(l => l.ByStatus).GroupBy(kv => kv.Key).Select(g => $"{(int)g.Key}: {g.Sum(kv => kv.Value)}"));

        public string DescribeUnexpected() => string.Join("\n", All.Select(l => l.DescribeUnexpected()).Where(d => d.Length > 0));
    }

    /// <summary>Code grains per running silo (Orleans' own activation gauge), e.g. "placement silo3=12 silo4=18".</summary>
    private static async Task<string> Placement(Deployment deployment)
    {
        var counts = new List<string>();
        foreach (var silo in Running(deployment))
        {
            var metrics = await Prometheus.ScrapeAsync(silo);
            counts.Add($"{silo.Name}={Prometheus.Sample(metrics, "orleans_catalog_activations", "grain_type=\"qrcode\""):F0}");
        }

        return "code grains " + string.Join(" ", counts);
    }
}
