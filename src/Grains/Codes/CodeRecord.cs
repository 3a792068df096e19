using InvexQr.Abstractions;
using InvexQr.Grains.Routing;

namespace InvexQr.Grains.Codes;

/// <summary>A row of <c>qr_codes</c>: what a code grain loads once on activation.</summary>
public sealed record CodeRecord(
    long Id,
    string Code,
    string TargetUrl,
    string? Title,
    CodeStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    long? OwnerId,
    IReadOnlyList<string> Tags,
    DateTimeOffset? ExpiresAt,
    long? MaxScans,
    int? ThrottleBurst = null,
    int? ThrottlePerMinute = null,
    RoutingTable? Routing = null,
    string? OwnerFallbackUrl = null)
{
    /// <summary>Where a scan goes when the code no longer redirects: its own fallback, else its owner's; null for the 410 page.</summary>
    public string? FallbackUrl => Routing?.FallbackUrl ?? OwnerFallbackUrl;

    /// <summary>Why the code no longer redirects at <paramref name="now"/> after <paramref name="scans"/> scans; null while it does.</summary>
    public GoneReason? GoneAt(DateTimeOffset now, long scans) =>
        Status == CodeStatus.Disabled ? GoneReason.Disabled
        : ExpiresAt <= now ? GoneReason.Expired
        : scans >= MaxScans ? GoneReason.Exhausted
        : null;
}

/// <summary>A code's row with its lifetime totals as the rollup sinks last wrote them.</summary>
public sealed record StoredCode(CodeRecord Record, long TotalScans, DateTimeOffset? LastScanAt);
