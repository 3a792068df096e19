using InvexQr.Data;
using InvexQr.Abstractions;
using InvexQr.Gateway.Api;
using InvexQr.Gateway.Auth;
using InvexQr.Grains.Analytics;
using InvexQr.Grains.Codes;

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
        endpoints.MapGet("/api/codes/{code}/stats", CodeStatsAsync).RequireAuthorization().WithTags("Stats")
            .WithSummary("Stats of one code: from, to (dates or date-times), granularity (hour|day|week|month), tz (IANA).")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound);
        endpoints.MapGet("/api/stats", AccountStatsAsync).RequireAuthorization().WithTags("Stats")
            .WithSummary("Stats over all the caller's codes, with the top codes; same parameters.")
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized);
        endpoints.MapGet("/api/codes/{code}/scans.csv", ScanCsvExport.ExportAsync).RequireAuthorization().WithTags("Stats")
            .WithSummary("Raw scans as CSV (anonymised as stored), streamed: from, to, tz.")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound)
            .DisableRequestTimeout(); // a year of scans streams for longer than the default budget
        return endpoints;
    }

    public static async Task<IResult> CodeStatsAsync(string code, HttpContext http, StatsQueries queries, TimeProvider clock)
    {
        var period = StatsPeriodQuery.TryParse(http.Request.Query, clock.GetUtcNow(), out var error);
        if (period is null)
        {
            return JsonBody.Invalid(error.Message, error.Field);
        }

        if (!CodeFormat.IsWellFormed(code) || await queries.FindOwnedCodeIdAsync(code, http.User.OwnerId(), http.RequestAborted) is not { } id)
        {
            return CodesApi.NotFound(code);
        }

        var data = await queries.QueryAsync([id], period, http.RequestAborted);
        return Results.Ok(Shape(period, data, code, topCodes: null));
    }

    public static async Task<IResult> AccountStatsAsync(HttpContext http, StatsQueries queries, TimeProvider clock)
    {
        var period = StatsPeriodQuery.TryParse(http.Request.Query, clock.GetUtcNow(), out var error);
        if (period is null)
        {
            return JsonBody.Invalid(error.Message, error.Field);
        }

        var codes = await queries.OwnedCodesAsync(http.User.OwnerId(), http.RequestAborted);
        var data = await queries.QueryAsync([.. codes.Keys], period, http.RequestAborted);
        var top = data.TopCodes.Where(t => codes.ContainsKey(t.CodeId)).Select(t => new { code = codes[t.CodeId], scans = t.Scans }).ToList();
        return Results.Ok(Shape(period, data, code: null, topCodes: top));
    }

    private static object Shape(StatsPeriod period, StatsData data, string? code, object? topCodes)
    {
        var totals = new HourCounts();
        foreach (var counts in data.Series.Values)
        {
            totals.Add(counts);
        }

        var series = period.Buckets().Select(bucket =>
        {
            data.Series.TryGetValue(bucket, out var c);
            return new { start = period.Format(bucket), scans = c?.Scans ?? 0, humans = c?.Humans ?? 0, bots = c?.Bots ?? 0, throttled = c?.Throttled ?? 0 };
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

        return new
        {
            code,
            from = period.From,
            to = period.To,
            granularity = period.Granularity,
            tz = period.TimeZone.Id,
            totals = new
            {
                scans = totals.Scans,
                humans = totals.Humans,
                bots = totals.Bots,
                repeats = totals.Repeats,
                throttled = totals.Throttled,
                unique = totals.Humans == 0 ? 0 : Math.Min(data.Uniques.Estimate(), totals.Humans),
            },
            series,
            countries = Top(data, Dimensions.Country, int.MaxValue).Select(d => new { country = d.Value, scans = d.Scans }),
            cities = Top(data, Dimensions.City, TopCities).Select(d =>
            {
                var parts = d.Value.Split('|', 2);
                return new { country = parts[0], city = parts.Length > 1 ? parts[1] : d.Value, latitude = d.Latitude, longitude = d.Longitude, scans = d.Scans };
            }),
            devices = Top(data, Dimensions.Device, TopOthers).Select(d => new { name = d.Value, scans = d.Scans }),
            os = Top(data, Dimensions.Os, TopOthers).Select(d => new { name = d.Value, scans = d.Scans }),
            browsers = Top(data, Dimensions.Browser, TopOthers).Select(d => new { name = d.Value, scans = d.Scans }),
            // peakHours[d][h]: scans on ISO weekday d (0 = Monday) at local hour h.
            peakHours = peak,
            // Rule ids are a code's own: summed over several codes they would mean nothing.
            routes = code is null ? null : Routes(data),
            topCodes,
        };
    }

    /// <summary>
    /// Scans per routing rule or A/B variant (<c>rule/variant</c>; <c>default</c> when no rule matched), with each one's
    /// share of the routed scans and its 95 % margin (normal approximation), or, for the variants of a split, of that split.
    /// </summary>
    private static IEnumerable<object> Routes(StatsData data)
    {
        var rows = Top(data, Dimensions.Route, int.MaxValue).ToList();
        var total = rows.Sum(r => r.Scans);
        var bySplit = rows.Where(r => r.Value.Contains('/')).GroupBy(r => r.Value.Split('/')[0]).ToDictionary(g => g.Key, g => g.Sum(r => r.Scans));
        return rows.Select(r =>
        {
            var rule = r.Value.Split('/')[0];
            var of = r.Value.Contains('/') ? bySplit[rule] : total;
            var share = of == 0 ? 0 : (double)r.Scans / of;
            return new
            {
                route = r.Value,
                rule,
                variant = r.Value.Contains('/') ? r.Value[(rule.Length + 1)..] : null,
                scans = r.Scans,
                share,
                margin95 = of == 0 ? 0 : 1.96 * Math.Sqrt(share * (1 - share) / of),
            };
        });
    }

    private static IEnumerable<DimRow> Top(StatsData data, string dim, int count) =>
        data.Dims.Where(d => d.Dim == dim).OrderByDescending(d => d.Scans).ThenBy(d => d.Value, StringComparer.Ordinal).Take(count);
}
