
namespace InvexQr.Abstractions;

/// <summary>What the gateway knows about one scan request, already enriched.</summary>
/// <param name="ClientIp">The client address as the gateway determined it (trusted proxies only); full address, memory only.</param>
/// <param name="Location">Geolocation of <paramref name="ClientIp"/>; null means unknown.</param>
/// <param name="Client">Browser, OS and device type from the user agent; null means unknown.</param>
/// <param name="AcceptLanguage">The <c>Accept-Language</c> header, for routing by language.</param>
/// <param name="QueryString">The scan's raw query string, for routing's pass-through; null when empty.</param>
/// <param name="ScanId">
/// The scan's id (UUIDv7), made by the gateway when the request arrived, with <paramref name="ScannedAt"/>: a call
/// the gateway sends again carries the same pair, so the row it leads to is the same row. Empty: the grain makes one.
/// </param>
[GenerateSerializer, Immutable]
public sealed record ScanRequest(
    [property: Id(0)] string? ClientIp,
    [property: Id(1)] string? UserAgent,
    [property: Id(2)] string? Referer,
    [property: Id(3)] GeoLocation? Location = null,
    [property: Id(4)] ClientInfo? Client = null,
    [property: Id(5)] bool DoNotTrack = false,
    [property: Id(6)] Guid ScanId = default,
    [property: Id(7)] DateTimeOffset? ScannedAt = null,
    [property: Id(8)] string? AcceptLanguage = null,
    [property: Id(9)] string? QueryString = null);

/// <summary>The decision for a scan.</summary>
[GenerateSerializer]
public enum ScanOutcome
{
    Redirect = 0,
    NotFound = 1,
    Gone = 2,
    Throttled = 3,
}

/// <summary>Why a code that exists no longer redirects.</summary>
[GenerateSerializer]
public enum GoneReason
{
    Disabled = 0,
    Expired = 1,
    Exhausted = 2,
}

/// <summary>The answer to a scan: where to send the client, or why not (a gone code may still name its fallback URL).</summary>
[GenerateSerializer, Immutable]
public sealed record ScanResult(
    [property: Id(0)] ScanOutcome Outcome,
    [property: Id(1)] string? TargetUrl,
    [property: Id(2)] GoneReason? GoneReason = null,
    [property: Id(3)] TimeSpan RetryAfter = default)
{
    public static readonly ScanResult NotFound = new(ScanOutcome.NotFound, null);

    public static ScanResult Gone(GoneReason reason, string? fallbackUrl = null) => new(ScanOutcome.Gone, fallbackUrl, reason);

    public static ScanResult Throttled(TimeSpan retryAfter) => new(ScanOutcome.Throttled, null, null, retryAfter);
}
