using System.Text.Json;
using System.Text.Json.Serialization;

namespace InvexQr.Grains.Routing;

/// <summary>
/// A code's smart routing, as the owner writes it and as it is stored (<c>qr_codes.routing</c>, jsonb): rules tried in
/// order (first match wins, else the default target), a schedule of default-target changes, UTM parameters, query
/// pass-through and a fallback URL for when the code no longer redirects. Compiled once per load into a
/// <see cref="RoutingTable"/>, which is what a scan runs. Unknown fields are refused.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RoutingRules
{
    /// <summary>IANA time zone of the time windows that do not name one; UTC when absent.</summary>
    public string? TimeZone { get; init; }

    public IReadOnlyList<RoutingRule>? Rules { get; init; }

    /// <summary>From each instant on, the default target becomes the entry's target (the latest passed entry wins).</summary>
    public IReadOnlyList<ScheduledTarget>? Schedule { get; init; }

    public UtmParameters? Utm { get; init; }

    /// <summary>Append the scan's own query string to the target (the target's parameters win on a clash).</summary>
    public bool PassQuery { get; init; }

    /// <summary>Where scans go instead of the 410 page when the code is disabled, expired or out of scans.</summary>
    public string? FallbackUrl { get; init; }

    /// <summary>The stored form: camelCase, nulls left out.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static RoutingRules FromJson(string json) =>
        JsonSerializer.Deserialize<RoutingRules>(json, Json) ?? throw new JsonException("routing is null");
}

/// <summary>One rule: conditions (all must hold; none = always) and either a target or a weighted split.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RoutingRule
{
    /// <summary>Names the rule in the stats; <c>r1</c>, <c>r2</c>… by position when absent.</summary>
    public string? Id { get; init; }

    public string? Target { get; init; }

    /// <summary>A/B split: variants by weight, sticky per visitor for the day.</summary>
    public IReadOnlyList<SplitVariant>? Split { get; init; }

    public RuleConditions? When { get; init; }
}

/// <summary>Conditions of a rule; every one given must hold. Lists match any of their values.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RuleConditions
{
    /// <summary><c>mobile</c>, <c>tablet</c>, <c>desktop</c>, <c>bot</c>, <c>other</c>.</summary>
    public IReadOnlyList<string>? Device { get; init; }

    /// <summary>OS families: <c>ios</c>, <c>android</c>, <c>windows</c>, <c>macos</c>, <c>linux</c>, <c>chromeos</c>, <c>other</c>.</summary>
    public IReadOnlyList<string>? Os { get; init; }

    /// <summary>ISO 3166-1 alpha-2 codes of the scan's location.</summary>
    public IReadOnlyList<string>? Country { get; init; }

    /// <summary>ISO 639 primary languages (<c>fr</c>, <c>de</c>) of the scan's preferred <c>Accept-Language</c>.</summary>
    public IReadOnlyList<string>? Language { get; init; }

    public TimeWindow? Time { get; init; }
}

/// <summary>
/// Local wall-clock window: days of the week, hours (<c>from</c> inclusive, <c>to</c> exclusive; <c>to</c> before
/// <c>from</c> runs past midnight and belongs to the day it started), and a date range (both ends included).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record TimeWindow
{
    /// <summary><c>mon</c> … <c>sun</c>.</summary>
    public IReadOnlyList<string>? Days { get; init; }

    /// <summary><c>HH:mm</c>.</summary>
    public string? From { get; init; }

    /// <summary><c>HH:mm</c>; <c>24:00</c> is the end of the day.</summary>
    public string? To { get; init; }

    /// <summary><c>yyyy-MM-dd</c>, local.</summary>
    public string? StartDate { get; init; }

    /// <summary><c>yyyy-MM-dd</c>, local, included.</summary>
    public string? EndDate { get; init; }

    /// <summary>IANA zone; the routing's <see cref="RoutingRules.TimeZone"/> when absent.</summary>
    public string? TimeZone { get; init; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SplitVariant
{
    /// <summary>Names the variant in the stats (<c>rule/variant</c>); <c>a</c>, <c>b</c>… by position when absent.</summary>
    public string? Id { get; init; }

    public string? Target { get; init; }

    public int Weight { get; init; } = 1;
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ScheduledTarget
{
    public DateTimeOffset? At { get; init; }

    public string? Target { get; init; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record UtmParameters
{
    public string? Source { get; init; }

    public string? Medium { get; init; }

    public string? Campaign { get; init; }

    public string? Term { get; init; }

    public string? Content { get; init; }
}
