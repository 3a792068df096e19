using System.Globalization;

namespace InvexQr.Grains.Analytics;

/// <summary>
/// The period and shape of a stats request, parsed from <c>from</c>, <c>to</c>, <c>granularity</c> and
/// <c>tz</c>. Dates (<c>2026-11-01</c>) are whole days in <c>tz</c>, <c>to</c> included; date-times
/// with an offset are instants, <c>to</c> excluded. Default: the last 30 days up to now, by day, UTC.
/// </summary>
public sealed record StatsPeriod(DateTimeOffset From, DateTimeOffset To, string Granularity, TimeZoneInfo TimeZone)
{
    public static readonly string[] Granularities = ["hour", "day", "week", "month"];
    private static readonly TimeSpan MaxHourlySpan = TimeSpan.FromDays(31);
    private static readonly TimeSpan MaxSpan = TimeSpan.FromDays(366 * 5);

    /// <summary>Parses the query's values (null = absent); on failure <paramref name="error"/> names the parameter and the problem.</summary>
    public static StatsPeriod? TryParse(
        string? fromText, string? toText, string? granularityText, string? tzText, DateTimeOffset now, out (string Field, string Message) error)
    {
        error = default;
        tzText ??= string.Empty;
        var tz = TimeZoneInfo.Utc;
        if (tzText.Length > 0 && (tzText.Length > 64 || !TimeZoneInfo.TryFindSystemTimeZoneById(tzText, out tz!) || !tzText.Contains('/') && tzText != "UTC"))
        {
            error = ("tz", "tz must be an IANA time zone such as Europe/Paris or UTC.");
            return null;
        }

        var granularity = granularityText ?? string.Empty;
        if (granularity.Length == 0)
        {
            granularity = "day";
        }
        else if (!Granularities.Contains(granularity))
        {
            error = ("granularity", "granularity must be hour, day, week or month.");
            return null;
        }

        var to = now;
        if (toText is not null && !TryParseBound(toText, tz, endOfDay: true, out to))
        {
            error = ("to", "to must be a date (2026-11-24) or a date-time with an offset (2026-11-24T12:00:00Z).");
            return null;
        }

        var from = to.AddDays(-30);
        if (fromText is not null && !TryParseBound(fromText, tz, endOfDay: false, out from))
        {
            error = ("from", "from must be a date (2026-11-01) or a date-time with an offset (2026-11-01T00:00:00Z).");
            return null;
        }

        if (from >= to)
        {
            error = ("from", "from must be before to.");
            return null;
        }

        var limit = granularity == "hour" ? MaxHourlySpan : MaxSpan;
        if (to - from > limit)
        {
            error = ("to", granularity == "hour" ? "hourly stats cover at most 31 days." : "stats cover at most 5 years.");
            return null;
        }

        // Npgsql writes timestamptz from UTC offsets only; the zone lives on in TimeZone.
        return new StatsPeriod(from.ToUniversalTime(), to.ToUniversalTime(), granularity, tz);
    }

    /// <summary>The local start of every bucket in the period, empty ones included (charts need them).</summary>
    public IEnumerable<DateTime> Buckets()
    {
        var end = TimeZoneInfo.ConvertTime(To, TimeZone).DateTime;
        for (var bucket = Truncate(TimeZoneInfo.ConvertTime(From, TimeZone).DateTime); bucket < end; bucket = Next(bucket))
        {
            yield return bucket;
        }
    }

    /// <summary>A local bucket start as an ISO date-time with the zone's offset at that moment.</summary>
    public string Format(DateTime localBucket)
    {
        var offset = TimeZone.IsInvalidTime(localBucket) ? TimeZone.BaseUtcOffset : TimeZone.GetUtcOffset(localBucket);
        return new DateTimeOffset(localBucket, offset).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
    }

    private DateTime Truncate(DateTime local) => Granularity switch
    {
        "hour" => new DateTime(local.Year, local.Month, local.Day, local.Hour, 0, 0),
        "day" => local.Date,
        "week" => local.Date.AddDays(-(((int)local.DayOfWeek + 6) % 7)), // ISO weeks start on Monday, as PostgreSQL's date_trunc('week')
        _ => new DateTime(local.Year, local.Month, 1),
    };

    private DateTime Next(DateTime bucket) => Granularity switch
    {
        "hour" => bucket.AddHours(1),
        "day" => bucket.AddDays(1),
        "week" => bucket.AddDays(7),
        _ => bucket.AddMonths(1),
    };

    private static bool TryParseBound(string text, TimeZoneInfo tz, bool endOfDay, out DateTimeOffset value)
    {
        value = default;
        if (text.Length > 40)
        {
            return false;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            if (date.Year is < 2000 or > 2200)
            {
                return false;
            }

            var local = date.ToDateTime(TimeOnly.MinValue).AddDays(endOfDay ? 1 : 0);
            var offset = tz.IsInvalidTime(local) ? tz.BaseUtcOffset : tz.GetUtcOffset(local);
            value = new DateTimeOffset(local, offset);
            return true;
        }

        // Date-times must say which instant they mean: an offset or Z is required.
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out value)
            && (text.EndsWith('Z') || text.Contains('+') || text.LastIndexOf('-') > 9)
            && value.Year is >= 2000 and <= 2200)
        {
            return true;
        }

        return false;
    }
}
