using InvexQr.Grains.Analytics;
using InvexQr.Gateway.Analytics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace InvexQr.UnitTests.Analytics;

public sealed class StatsPeriodTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 15, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Dates_are_whole_local_days_with_the_end_day_included()
    {
        var period = Parse("from=2026-11-01&to=2026-11-03&tz=Europe/Paris")!;
        Assert.Equal(new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero), period.From);
        Assert.Equal(new DateTimeOffset(2026, 11, 3, 23, 0, 0, TimeSpan.Zero), period.To);
        Assert.Equal(["2026-11-01T00:00:00+01:00", "2026-11-02T00:00:00+01:00", "2026-11-03T00:00:00+01:00"], period.Buckets().Select(period.Format));
    }

    [Fact]
    public void Weeks_start_on_monday_and_months_on_the_first()
    {
        var weeks = Parse("from=2026-11-04&to=2026-11-20&granularity=week")!;
        Assert.Equal(["2026-11-02T00:00:00+00:00", "2026-11-09T00:00:00+00:00", "2026-11-16T00:00:00+00:00"], weeks.Buckets().Select(weeks.Format));
        var months = Parse("from=2026-01-15&to=2026-03-01&granularity=month")!;
        Assert.Equal(3, months.Buckets().Count());
    }

    [Fact]
    public void Defaults_to_the_last_30_days_by_day_in_utc()
    {
        var period = Parse("")!;
        Assert.Equal((Now.AddDays(-30), Now, "day", "UTC"), (period.From, period.To, period.Granularity, period.TimeZone.Id));
    }

    [Theory]
    [InlineData("tz=Nowhere/Land", "tz")]
    [InlineData("tz=" + "Europe/Paris-Europe/Paris-Europe/Paris-Europe/Paris-Europe/Paris-Europe/Paris", "tz")]
    [InlineData("granularity=second", "granularity")]
    [InlineData("from=2026-13-01", "from")]
    [InlineData("from=1900-01-01", "from")]
    [InlineData("to=2026-11-01T10:00:00", "to")]
    [InlineData("from=2026-11-02&to=2026-11-01", "from")]
    [InlineData("granularity=hour&from=2026-01-01&to=2026-03-01", "to")]
    [InlineData("from=2010-01-01&to=2026-01-01", "to")]
    public void Bad_parameters_are_named(string query, string field)
    {
        Assert.Null(StatsPeriodQuery.TryParse(Query(query), Now, out var error));
        Assert.Equal(field, error.Field);
    }

    private static StatsPeriod? Parse(string query) => StatsPeriodQuery.TryParse(Query(query), Now, out _);

    private static QueryCollection Query(string query) =>
        new(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query).ToDictionary(kv => kv.Key, kv => (StringValues)kv.Value));
}
