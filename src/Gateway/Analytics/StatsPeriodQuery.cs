using InvexQr.Grains.Analytics;

namespace InvexQr.Gateway.Analytics;

/// <summary>The <c>from</c>, <c>to</c>, <c>granularity</c> and <c>tz</c> query parameters as a <see cref="StatsPeriod"/>.</summary>
public static class StatsPeriodQuery
{
    public static StatsPeriod? TryParse(StatsParameters query, DateTimeOffset now, out (string Field, string Message) error) =>
        StatsPeriod.TryParse(query.From, query.To, query.Granularity, query.Tz, now, out error);

    public static StatsPeriod? TryParse(IQueryCollection query, DateTimeOffset now, out (string Field, string Message) error) =>
        TryParse(
            new StatsParameters { From = Value(query, "from"), To = Value(query, "to"), Granularity = Value(query, "granularity"), Tz = Value(query, "tz") },
            now,
            out error);

    private static string? Value(IQueryCollection query, string name) => query[name].Count > 0 ? query[name].ToString() : null;
}
