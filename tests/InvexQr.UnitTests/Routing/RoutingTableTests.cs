using InvexQr.Grains.Routing;

namespace InvexQr.UnitTests.Routing;

/// <summary>The one function that routes a scan, with exact instants: every rule kind, order, DST, schedule, A/B.</summary>
public sealed class RoutingTableTests
{
    private const string Default = "https://example.org/default";
    private static readonly DateTimeOffset Noon = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero); // a Wednesday

    private static RoutingTable Table(string json, string target = Default)
    {
        var warnings = new List<RoutingProblem>();
        var rules = RoutingValidation.Check(RoutingRules.FromJson(json), [], Noon.AddYears(-1), out var error, warnings);
        Assert.Null(error);
        return RoutingTable.Compile(rules!, target);
    }

    private static ScanContext Scan(string? device = null, string? os = null, string? country = null, string? language = null, string? query = null, ulong visitor = 0) =>
        new(device, os, country, language, query, visitor);

    [Fact]
    public void Device_os_country_and_language_each_route_and_the_first_match_wins()
    {
        var table = Table("""
            {"rules":[
              {"id":"ios","when":{"os":["ios"]},"target":"https://apps.apple.com/app/x"},
              {"id":"android","when":{"os":["android"]},"target":"https://play.google.com/store/apps/details?id=x"},
              {"id":"tablet","when":{"device":["tablet"]},"target":"https://example.org/tablet"},
              {"id":"fr","when":{"country":["fr","BE"]},"target":"https://example.org/fr"},
              {"id":"de","when":{"language":["de"]},"target":"https://example.org/de"},
              {"id":"both","when":{"country":["CH"],"language":["it"]},"target":"https://example.org/ch-it"}
            ]}
            """);

        Assert.Equal(new RouteDecision("https://apps.apple.com/app/x", "ios"), table.Route(Scan("tablet", "iOS", "FR"), Noon)); // first match wins
        Assert.Equal("android", table.Route(Scan("mobile", "Android"), Noon).Route);
        Assert.Equal("tablet", table.Route(Scan("tablet", "Windows"), Noon).Route);
        Assert.Equal("fr", table.Route(Scan("desktop", "Mac OS X", "BE"), Noon).Route);
        Assert.Equal("de", table.Route(Scan("desktop", "Windows", "AT", "de-AT,de;q=0.9,en;q=0.5"), Noon).Route);
        Assert.Equal("de", table.Route(Scan(language: "en;q=0.3, de"), Noon).Route); // the highest q, not the first
        Assert.Equal("both", table.Route(Scan(country: "CH", language: "it-CH"), Noon).Route);
        Assert.Equal(new RouteDecision(Default, "default"), table.Route(Scan(country: "CH", language: "fr-CH"), Noon)); // all conditions must hold
        Assert.Equal("default", table.Route(ScanContext.None, Noon).Route); // unknown traits match nothing
    }

    [Fact]
    public void A_time_window_follows_the_wall_clock_of_its_zone_across_the_spring_dst_change()
    {
        // Paris changes from CET (+1) to CEST (+2) at 2026-03-29 01:00 UTC.
        var table = Table("""
            {"timeZone":"Europe/Paris","rules":[{"id":"open","when":{"time":{"days":["sat","sun"],"from":"09:00","to":"17:00"}},"target":"https://example.org/open"}]}
            """);

        // 07:30 UTC is 08:30 on Saturday (closed) but 09:30 on Sunday, after the change (open).
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-03-28T07:30:00Z")).Route);
        Assert.Equal("open", table.Route(ScanContext.None, At("2026-03-29T07:30:00Z")).Route);
        // The window opens at 09:00 local exactly: 07:59:59 UTC closed, 08:00:00 UTC open on Saturday (CET)…
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-03-28T07:59:59Z")).Route);
        Assert.Equal("open", table.Route(ScanContext.None, At("2026-03-28T08:00:00Z")).Route);
        // …and at 07:00:00 UTC on Sunday (CEST); it closes at 17:00 local = 15:00 UTC.
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-03-29T06:59:59Z")).Route);
        Assert.Equal("open", table.Route(ScanContext.None, At("2026-03-29T07:00:00Z")).Route);
        Assert.Equal("open", table.Route(ScanContext.None, At("2026-03-29T14:59:59Z")).Route);
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-03-29T15:00:00Z")).Route);
        // A weekday is outside the days.
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-03-30T08:00:00Z")).Route);
    }

    [Fact]
    public void A_window_past_midnight_belongs_to_the_day_it_started_and_a_date_range_bounds_it()
    {
        var table = Table("""
            {"rules":[{"id":"late","when":{"time":{"days":["fri"],"from":"22:00","to":"02:00","timeZone":"America/New_York",
              "startDate":"2026-11-06","endDate":"2026-11-13"}},"target":"https://example.org/late"}]}
            """);

        // Friday 2026-11-06 23:00 New York (EST, -5) = Saturday 04:00 UTC; Saturday 01:30 local = 06:30 UTC; 02:00 local closes.
        Assert.Equal("late", table.Route(ScanContext.None, At("2026-11-07T04:00:00Z")).Route);
        Assert.Equal("late", table.Route(ScanContext.None, At("2026-11-07T06:30:00Z")).Route);
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-11-07T07:00:00Z")).Route);
        // Saturday 23:00 local is not a Friday night.
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-11-08T04:00:00Z")).Route);
        // The next Friday is the range's last day (included); the one after is outside it.
        Assert.Equal("late", table.Route(ScanContext.None, At("2026-11-14T04:00:00Z")).Route);
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-11-21T04:00:00Z")).Route);
        // Before the range starts.
        Assert.Equal("default", table.Route(ScanContext.None, At("2026-10-31T03:00:00Z")).Route);
    }

    [Fact]
    public void The_schedule_switches_the_default_exactly_at_its_instant()
    {
        var table = Table("""
            {"schedule":[
              {"at":"2026-10-25T03:00:00+01:00","target":"https://example.org/winter"},
              {"at":"2026-03-29T02:00:00+01:00","target":"https://example.org/summer"}
            ]}
            """, "https://example.org/before");
        var summer = At("2026-03-29T01:00:00Z");
        var winter = At("2026-10-25T02:00:00Z");

        Assert.Equal("https://example.org/before", table.Route(ScanContext.None, summer.AddTicks(-1)).Target);
        Assert.Equal("https://example.org/summer", table.Route(ScanContext.None, summer).Target);
        Assert.Equal("https://example.org/summer", table.Route(ScanContext.None, winter.AddTicks(-1)).Target);
        Assert.Equal("https://example.org/winter", table.Route(ScanContext.None, winter).Target);
        Assert.Equal("https://example.org/winter", table.Route(ScanContext.None, winter.AddYears(5)).Target);
        Assert.Equal("default", table.Route(ScanContext.None, winter).Route);
    }

    [Fact]
    public void An_ab_split_follows_its_weights_over_ten_thousand_visitors_and_each_visitor_keeps_its_variant()
    {
        var table = Table("""
            {"rules":[{"id":"ab","split":[
              {"id":"a","target":"https://example.org/a","weight":50},
              {"id":"b","target":"https://example.org/b","weight":30},
              {"id":"c","target":"https://example.org/c","weight":20}]}]}
            """);
        var random = new Random(20260610);
        var counts = new Dictionary<string, int>();
        var first = new Dictionary<ulong, string>();
        for (var i = 0; i < 10_000; i++)
        {
            var visitor = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 63);
            var route = table.Route(Scan(visitor: visitor), Noon).Route;
            counts[route] = counts.GetValueOrDefault(route) + 1;
            first[visitor] = route;
        }

        // 10,000 draws: the standard deviation of a 50 % share is 0.5 points; 2 points is four of them.
        Assert.InRange(counts["ab/a"], 4_800, 5_200);
        Assert.InRange(counts["ab/b"], 2_800, 3_200);
        Assert.InRange(counts["ab/c"], 1_800, 2_200);
        foreach (var (visitor, route) in first.Take(1000))
        {
            Assert.Equal(route, table.Route(Scan(visitor: visitor), Noon.AddHours(5)).Route);
            Assert.Equal("https://example.org/" + route[^1], table.Route(Scan(visitor: visitor), Noon).Target);
        }
    }

    [Fact]
    public void Two_splits_place_a_visitor_independently_and_a_zero_weight_variant_gets_nobody()
    {
        var table = Table("""
            {"rules":[
              {"id":"one","when":{"device":["mobile"]},"split":[{"target":"https://example.org/1a"},{"target":"https://example.org/1b"}]},
              {"id":"two","split":[{"target":"https://example.org/2a","weight":1},{"target":"https://example.org/2b","weight":1},{"target":"https://example.org/2c","weight":0}]}
            ]}
            """);
        var same = 0;
        for (ulong visitor = 0; visitor < 2000; visitor++)
        {
            var one = table.Route(Scan("mobile", visitor: visitor), Noon).Route;
            var two = table.Route(Scan("desktop", visitor: visitor), Noon).Route;
            Assert.NotEqual("two/c", two);
            same += one[^1] == two[^1] ? 1 : 0;
        }

        Assert.InRange(same, 850, 1150); // independent: about half agree
    }

    [Fact]
    public void Utm_parameters_and_the_scan_query_are_merged_into_every_target()
    {
        var table = Table("""
            {"utm":{"source":"poster","medium":"qr","campaign":"spring sale"},"passQuery":true,
             "rules":[{"id":"ios","when":{"os":["ios"]},"target":"https://apps.apple.com/app/x?utm_source=old#top"}]}
            """, "https://example.org/p?ref=1");

        Assert.Equal(
            "https://apps.apple.com/app/x?utm_source=poster&utm_medium=qr&utm_campaign=spring%20sale&table=4#top",
            table.Route(Scan(os: "iOS", query: "?table=4&utm_source=evil"), Noon).Target);
        Assert.Equal(
            "https://example.org/p?ref=1&utm_source=poster&utm_medium=qr&utm_campaign=spring%20sale",
            table.Route(Scan(os: "Android", query: "?ref=2"), Noon).Target);
    }

    private static DateTimeOffset At(string instant) => DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture);
}
