using InvexQr.Data;
using InvexQr.Abstractions;
using InvexQr.Gateway.Api;
using InvexQr.Gateway.Auth;
using InvexQr.Grains.Analytics;
using InvexQr.Grains.Codes;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InvexQr.Gateway.Analytics;

/// <summary>
/// <c>GET /api/codes/{code}/stats</c>, <c>GET /api/stats</c> (all the caller's codes) and
/// <c>GET /api/codes/{code}/scans.csv</c>. Stats come from the rollups, which include a scan within
/// about three seconds (grain hand-off a second after a scan, rollup sink write every two seconds).
/// </summary>
public static class StatsApi
{
    private const int TopCities = 50;
    private const int TopOthers = 15;

    public static IEndpointRouteBuilder MapStatsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/codes/{code}/stats", CodeStatsAsync).RequireAuthorization().WithTags("Stats").WithName("GetCodeStats")
            .WithSummary("Stats of one code over a period, in a time zone.")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound);
        endpoints.MapGet("/api/stats", AccountStatsAsync).RequireAuthorization().WithTags("Stats").WithName("GetAccountStats")
            .WithSummary("Stats over all the caller's codes, with the top codes; same parameters.")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized);
        endpoints.MapGet("/api/codes/{code}/scans.csv", ScanCsvExport.ExportAsync).RequireAuthorization().WithTags("Stats").WithName("ExportScansCsv")
            .WithSummary("Raw scans as CSV (anonymised as stored), streamed; granularity does not apply.")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound)
            .DisableRequestTimeout(); // a year of scans streams for longer than the default budget
        return endpoints;
    }

    public static async Task<Results<Ok<StatsResponse>, ProblemHttpResult>> CodeStatsAsync(
        string code, [AsParameters] StatsParameters query, HttpContext http, StatsQueries queries, TimeProvider clock)
    {
        var period = StatsPeriodQuery.TryParse(query, clock.GetUtcNow(), out var error);
        if (period is null)
        {
            return JsonBody.Invalid(error.Message, error.Field);
        }

        if (!CodeFormat.IsWellFormed(code) || await queries.FindOwnedCodeIdAsync(code, http.User.OwnerId(), http.RequestAborted) is not { } id)
        {
            return CodesApi.NotFound(code);
        }

        var data = await queries.QueryAsync([id], period, http.RequestAborted);
        return TypedResults.Ok(Shape(period, data, code, topCodes: null));
    }

    public static async Task<Results<Ok<StatsResponse>, ProblemHttpResult>> AccountStatsAsync(
        [AsParameters] StatsParameters query, HttpContext http, StatsQueries queries, TimeProvider clock)
    {
        var period = StatsPeriodQuery.TryParse(query, clock.GetUtcNow(), out var error);
        if (period is null)
        {
            return JsonBody.Invalid(error.Message, error.Field);
        }

        var codes = await queries.OwnedCodesAsync(http.User.OwnerId(), http.RequestAborted);
        var data = await queries.QueryAsync([.. codes.Keys], period, http.RequestAborted);
        var top = data.TopCodes.Where(t => codes.ContainsKey(t.CodeId)).Select(t => new CodeScans(codes[t.CodeId], t.Scans)).ToList();
        return TypedResults.Ok(Shape(period, data, code: null, topCodes: top));
    }

    private static StatsResponse Shape(StatsPeriod period, StatsData data, string? code, IReadOnlyList<CodeScans>? topCodes)
    {
        var totals = new HourCounts();
        foreach (var counts in data.Series.Values)
        {
            totals.Add(counts);
        }

        var series = period.Buckets().Select(bucket =>
        {
            data.Series.TryGetValue(bucket, out var c);
            return new StatsBucket(period.Format(bucket), c?.Scans ?? 0, c?.Humans ?? 0, c?.Bots ?? 0, c?.Throttled ?? 0);
        }).ToList();

        var peak = new long[7][];
        for (var day = 0; day < 7; day++)
        {
            peak[day] = new long[24];
            for (var hour = 0; hour < 24; hour++)
            {
                peak[day][hour] = data.PeakHours[day, hour];
            }
        }

        return new StatsResponse(
            code,
            period.From,
            period.To,
            period.Granularity,
            period.TimeZone.Id,
            new StatsTotals(
                totals.Scans, totals.Humans, totals.Bots, totals.Repeats, totals.Throttled,
                totals.Humans == 0 ? 0 : Math.Min(data.Uniques.Estimate(), totals.Humans)),
            series,
            [.. Top(data, Dimensions.Country, int.MaxValue).Select(d => new CountryScans(d.Value, d.Scans))],
            [.. Top(data, Dimensions.City, TopCities).Select(d =>
            {
                var parts = d.Value.Split('|', 2);
                return new CityScans(parts[0], parts.Length > 1 ? parts[1] : d.Value, d.Latitude, d.Longitude, d.Scans);
            })],
            [.. Top(data, Dimensions.Device, TopOthers).Select(d => new NamedScans(d.Value, d.Scans))],
            [.. Top(data, Dimensions.Os, TopOthers).Select(d => new NamedScans(d.Value, d.Scans))],
            [.. Top(data, Dimensions.Browser, TopOthers).Select(d => new NamedScans(d.Value, d.Scans))],
            // peakHours[d][h]: scans on ISO weekday d (0 = Monday) at local hour h.
            peak,
            // Rule ids are a code's own: summed over several codes they would mean nothing.
            code is null ? null : Routes(data),
            topCodes);
    }

    /// <summary>
    /// Scans per routing rule or A/B variant (<c>rule/variant</c>; <c>default</c> when no rule matched), with each one's
    /// share of the routed scans and its 95 % margin (normal approximation), or, for the variants of a split, of that split.
    /// </summary>
    private static List<RouteScans> Routes(StatsData data)
    {
        var rows = Top(data, Dimensions.Route, int.MaxValue).ToList();
        var total = rows.Sum(r => r.Scans);
        var bySplit = rows.Where(r => r.Value.Contains('/')).GroupBy(r => r.Value.Split('/')[0]).ToDictionary(g => g.Key, g => g.Sum(r => r.Scans));
        return [.. rows.Select(r =>
        {
            var rule = r.Value.Split('/')[0];
            var of = r.Value.Contains('/') ? bySplit[rule] : total;
            var share = of == 0 ? 0 : (double)r.Scans / of;
            return new RouteScans(
                r.Value,
                rule,
                r.Value.Contains('/') ? r.Value[(rule.Length + 1)..] : null,
                r.Scans,
                share,
                of == 0 ? 0 : 1.96 * Math.Sqrt(share * (1 - share) / of));
        })];
    }

    private static IEnumerable<DimRow> Top(StatsData data, string dim, int count) =>
        data.Dims.Where(d => d.Dim == dim).OrderByDescending(d => d.Scans).ThenBy(d => d.Value, StringComparer.Ordinal).Take(count);
}
