using InvexQr.Abstractions;
using InvexQr.Grains.Routing;

namespace InvexQr.Gateway.Api;

/// <summary>Body of <c>POST /api/codes</c>.</summary>
public sealed record CreateCodeRequest(
    string? TargetUrl,
    string? Code,
    string? Title,
    IReadOnlyList<string?>? Tags = null,
    DateTimeOffset? ExpiresAt = null,
    long? MaxScans = null,
    int? ThrottleBurst = null,
    int? ThrottlePerMinute = null,
    RoutingRules? Routing = null);

/// <summary>
/// Body of <c>PATCH /api/codes/{code}</c>; absent fields stay unchanged, <c>"expiresAt": null</c> and
/// <c>"maxScans": null</c> remove the expiry and the scan budget; <c>"routing"</c> replaces the whole routing, null removes it.
/// </summary>
public sealed record UpdateCodeRequest(
    string? TargetUrl,
    string? Title,
    bool? Enabled,
    IReadOnlyList<string?>? Tags = null,
    DateTimeOffset? ExpiresAt = null,
    long? MaxScans = null,
    int? ThrottleBurst = null,
    int? ThrottlePerMinute = null,
    RoutingRules? Routing = null);

/// <summary>A code as the API returns it.</summary>
/// <param name="RoutingWarnings">On create and update: parts of the routing that can never match (allowed, shown to the owner).</param>
/// <param name="Status"><c>active</c>, <c>disabled</c> (by its owner), <c>expired</c> or <c>exhausted</c> (scan budget spent).</param>
public sealed record CodeResponse(
    string Code,
    string ShortUrl,
    string TargetUrl,
    string? Title,
    string Status,
    IReadOnlyList<string> Tags,
    DateTimeOffset? ExpiresAt,
    long? MaxScans,
    int? ThrottleBurst,
    int? ThrottlePerMinute,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    long TotalScans,
    DateTimeOffset? LastScanAt,
    RoutingRules? Routing = null,
    IReadOnlyList<RoutingProblem>? RoutingWarnings = null)
{
    public static CodeResponse From(CodeDetails details, string shortUrl) => new(
        details.Code,
        shortUrl,
        details.TargetUrl,
        details.Title,
        StatusName(details.Status, details.Gone),
        details.Tags,
        details.ExpiresAt,
        details.MaxScans,
        details.ThrottleBurst,
        details.ThrottlePerMinute,
        details.CreatedAt,
        details.UpdatedAt,
        details.TotalScans,
        details.LastScanAt,
        details.RoutingJson is null ? null : RoutingRules.FromJson(details.RoutingJson));

    public static string StatusName(CodeStatus status, GoneReason? gone) => (status, gone) switch
    {
        (CodeStatus.Disabled, _) => "disabled",
        (_, GoneReason.Expired) => "expired",
        (_, GoneReason.Exhausted) => "exhausted",
        _ => "active",
    };
}
