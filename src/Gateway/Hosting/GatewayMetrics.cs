using System.Diagnostics.Metrics;
using InvexQr.Enrichment.Geo;
using InvexQr.Enrichment.UserAgents;
using InvexQr.ServiceDefaults.Telemetry;

namespace InvexQr.Gateway.Hosting;

/// <summary>
/// The gateway's own instruments (scraped at <c>/metrics</c>): scans by outcome, redirect latency,
/// and the enrichment caches' hits and misses (observed at scrape time from the caches' counters,
/// so the scan path only pays for one counter add and one histogram record).
/// </summary>
public sealed class GatewayMetrics
{
    public const string Redirect = "redirect";
    public const string Bot = "bot";
    public const string NotFound = "not_found";
    public const string Gone = "gone";
    public const string Throttled = "throttled";
    public const string Unavailable = "unavailable";

    /// <summary>Every <c>outcome</c> of <see cref="Scanned"/>.</summary>
    public static readonly string[] Outcomes = [Redirect, Bot, NotFound, Gone, Throttled, Unavailable];

    private readonly Counter<long> _scans;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;

    // The meter provider is taken first so that its listener is on when the zeros below are recorded: a measurement
    // made before anything listens is dropped, and the series would appear only once it first fired.
    public GatewayMetrics(IMeterFactory meters, GeoLocator geo, UserAgentClassifier userAgents, OpenTelemetry.Metrics.MeterProvider? listening = null)
    {
        var meter = meters.Create(InvexQrMeters.Gateway);
        _scans = meter.CreateCounter<long>(InvexQrMeters.Scans, "{scan}", "Scans answered by outcome: redirect, bot (redirected), not_found, gone, throttled, unavailable");
        _duration = meter.CreateHistogram<double>(InvexQrMeters.RedirectDuration, "s", "Time to answer GET /r/{code}");
        _retries = meter.CreateCounter<long>(InvexQrMeters.ScanRetries, "{retry}", "Scan calls sent again because Orleans rejected the first one undelivered");
        // Every series exported at 0 from start, errors included: rate() sees the first one, alerts see "none yet".
        foreach (var outcome in Outcomes)
        {
            _scans.Add(0, new KeyValuePair<string, object?>("outcome", outcome));
        }

        _retries.Add(0);
        meter.CreateObservableGauge(InvexQrMeters.GeoDatabaseBuildTimestamp, () => geo.BuildDate is { } built
            ? [new Measurement<long>(built.ToUnixTimeSeconds())]
            : Array.Empty<Measurement<long>>(), "s", "When the loaded GeoLite2/GeoIP2 City database was built (Unix time); absent without one");
        meter.CreateObservableCounter(InvexQrMeters.EnrichmentCacheLookups, () => new[]
        {
            Lookups("geo", "hit", geo.Cache.Hits),
            Lookups("geo", "miss", geo.Cache.Misses),
            Lookups("user_agent", "hit", userAgents.Cache?.Hits ?? 0),
            Lookups("user_agent", "miss", userAgents.Cache?.Misses ?? 0),
        }, "{lookup}", "Enrichment cache lookups by cache (geo, user_agent) and result (hit, miss)");
    }

    public void Scanned(string outcome, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        _scans.Add(1, tag);
        _duration.Record(elapsed.TotalSeconds, tag);
    }

    public void ScanRetried() => _retries.Add(1);

    private static Measurement<long> Lookups(string cache, string result, long value) =>
        new(value, new KeyValuePair<string, object?>("cache", cache), new KeyValuePair<string, object?>("result", result));
}
