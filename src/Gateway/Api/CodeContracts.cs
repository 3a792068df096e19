using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using InvexQr.Abstractions;
using InvexQr.Grains.Routing;
using Microsoft.AspNetCore.Mvc;

namespace InvexQr.Gateway.Api;

/// <summary>Body of <c>POST /api/codes</c>.</summary>
/// <param name="TargetUrl">Required: an absolute http(s) URL.</param>
/// <param name="Code">A custom slug; absent: a random one.</param>
public sealed record CreateCodeRequest(
    string? TargetUrl,
    string? Code = null,
    string? Title = null,
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
    string? TargetUrl = null,
    string? Title = null,
    bool? Enabled = null,
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
    [property: AllowedValues("active", "disabled", "expired", "exhausted")] string Status,
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

/// <summary>The query of <c>GET /api/codes</c>; every field is optional.</summary>
public sealed record CodeListParameters
{
    [FromQuery(Name = "limit")]
    [Range(1, 100)]
    [Description("Codes per page, 1-100; default 20.")]
    public int? Limit { get; init; }

    [FromQuery(Name = "cursor")]
    [MaxLength(64)]
    [Description("The nextCursor of the previous page.")]
    public string? Cursor { get; init; }

    [FromQuery(Name = "q")]
    [MaxLength(200)]
    [Description("Search in the code, its title and its target URL.")]
    public string? Q { get; init; }

    [FromQuery(Name = "tag")]
    [MaxLength(CodeFieldRules.MaxTagLength)]
    [Description("Only codes with this tag.")]
    public string? Tag { get; init; }

    [FromQuery(Name = "sort")]
    [AllowedValues("-createdAt", "createdAt")]
    [Description("-createdAt (newest first, the default) or createdAt.")]
    public string? Sort { get; init; }
}

/// <summary>A page of codes; <c>nextCursor</c> is the <c>cursor</c> of the following page, null on the last one.</summary>
public sealed record CodeListPage(IReadOnlyList<CodeListItem> Items, string? NextCursor);

/// <summary>A code in a list: <see cref="CodeResponse"/> without its counters, throttle and routing.</summary>
public sealed record CodeListItem(
    string Code,
    string ShortUrl,
    string TargetUrl,
    string? Title,
    [property: AllowedValues("active", "disabled", "expired", "exhausted")] string Status,
    IReadOnlyList<string> Tags,
    DateTimeOffset? ExpiresAt,
    long? MaxScans,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);
