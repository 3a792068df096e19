using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;

namespace InvexQr.Gateway.Analytics;

/// <summary>The period of <c>/api/stats</c>, <c>/api/codes/{code}/stats</c> and <c>scans.csv</c>; every field is optional.</summary>
public sealed record StatsParameters
{
    [FromQuery(Name = "from")]
    [MaxLength(64)]
    [Description("Start: a date (2026-11-01, midnight in tz) or a date-time with an offset; default 30 days before to (CSV: the first scan).")]
    public string? From { get; init; }

    [FromQuery(Name = "to")]
    [MaxLength(64)]
    [Description("End: a date (2026-11-24, its end in tz) or a date-time with an offset; default now. At most 5 years after from, 31 days for hour.")]
    public string? To { get; init; }

    [FromQuery(Name = "granularity")]
    [AllowedValues("hour", "day", "week", "month")]
    [Description("Bucket size of the series; default day.")]
    public string? Granularity { get; init; }

    [FromQuery(Name = "tz")]
    [MaxLength(64)]
    [Description("IANA time zone of dates, buckets and peak hours (Europe/Paris); default UTC.")]
    public string? Tz { get; init; }
}

/// <summary>Scan statistics of one code, or of all the caller's codes (then <c>code</c>, <c>routes</c> are null and <c>topCodes</c> is set).</summary>
/// <param name="PeakHours">Scans per ISO weekday (0 = Monday) and local hour: 7 arrays of 24.</param>
/// <param name="Routes">Per routing rule or A/B variant (one code only).</param>
public sealed record StatsResponse(
    string? Code,
    DateTimeOffset From,
    DateTimeOffset To,
    [property: AllowedValues("hour", "day", "week", "month")] string Granularity,
    string Tz,
    StatsTotals Totals,
    IReadOnlyList<StatsBucket> Series,
    IReadOnlyList<CountryScans> Countries,
    IReadOnlyList<CityScans> Cities,
    IReadOnlyList<NamedScans> Devices,
    IReadOnlyList<NamedScans> Os,
    IReadOnlyList<NamedScans> Browsers,
    long[][] PeakHours,
    IReadOnlyList<RouteScans>? Routes,
    IReadOnlyList<CodeScans>? TopCodes);

/// <param name="Unique">Estimated distinct human visitors (HyperLogLog), at most <c>humans</c>.</param>
public sealed record StatsTotals(long Scans, long Humans, long Bots, long Repeats, long Throttled, long Unique);

/// <param name="Start">The bucket's local start in tz (2026-11-24T13:00:00).</param>
public sealed record StatsBucket(string Start, long Scans, long Humans, long Bots, long Throttled);

/// <param name="Country">ISO 3166-1 alpha-2, or <c>unknown</c>.</param>
public sealed record CountryScans(string Country, long Scans);

public sealed record CityScans(string Country, string City, double? Latitude, double? Longitude, long Scans);

public sealed record NamedScans(string Name, long Scans);

/// <param name="Route"><c>rule</c>, <c>rule/variant</c>, or <c>default</c> when no rule matched.</param>
/// <param name="Share">Of the code's routed scans, or for a variant of its split's scans.</param>
/// <param name="Margin95">The share's 95 % margin (normal approximation).</param>
public sealed record RouteScans(string Route, string Rule, string? Variant, long Scans, double Share, double Margin95);

public sealed record CodeScans(string Code, long Scans);
