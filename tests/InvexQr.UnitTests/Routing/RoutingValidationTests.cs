using InvexQr.Grains.Routing;

namespace InvexQr.UnitTests.Routing;

public sealed class RoutingValidationTests
{
    private static readonly DateTimeOffset Now = new(2026, 6, 10, 12, 0, 0, TimeSpan.Zero);

    private static (RoutingRules? Rules, RoutingProblem? Error, List<RoutingProblem> Warnings) Check(string json)
    {
        var warnings = new List<RoutingProblem>();
        var rules = RoutingValidation.Check(RoutingRules.FromJson(json), ["qr.example.com"], Now, out var error, warnings);
        return (rules, error, warnings);
    }

    [Theory]
    [InlineData("""{"rules":[{"target":"javascript:alert(1)"}]}""", "routing.rules[0].target")]
    [InlineData("""{"rules":[{"target":"https://qr.example.com/r/loop"}]}""", "routing.rules[0].target")]
    [InlineData("""{"rules":[{"when":{"os":["ios"]}}]}""", "routing.rules[0]")]
    [InlineData("""{"rules":[{"target":"https://a.example/","split":[{"target":"https://b.example/"}]}]}""", "routing.rules[0]")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"device":["phone"]}}]}""", "routing.rules[0].when.device")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"os":["symbian"]}}]}""", "routing.rules[0].when.os")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"country":["FRA"]}}]}""", "routing.rules[0].when.country")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"language":["french"]}}]}""", "routing.rules[0].when.language")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"time":{"from":"9:00","to":"17:00"}}}]}""", "routing.rules[0].when.time.from")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"time":{"from":"09:00"}}}]}""", "routing.rules[0].when.time")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"time":{"days":["monday"]}}}]}""", "routing.rules[0].when.time.days")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"time":{"timeZone":"Mars/Olympus"}}}]}""", "routing.rules[0].when.time.timeZone")]
    [InlineData("""{"rules":[{"target":"https://a.example/","when":{"time":{"startDate":"2026-02-30"}}}]}""", "routing.rules[0].when.time.startDate")]
    [InlineData("""{"rules":[{"id":"x","target":"https://a.example/"},{"id":"x","target":"https://b.example/"}]}""", "routing.rules[1].id")]
    [InlineData("""{"rules":[{"id":"default","target":"https://a.example/"}]}""", "routing.rules[0].id")]
    [InlineData("""{"rules":[{"split":[{"target":"https://a.example/","weight":-1}]}]}""", "routing.rules[0].split[0].weight")]
    [InlineData("""{"rules":[{"split":[]}]}""", "routing.rules[0].split")]
    [InlineData("""{"schedule":[{"target":"https://a.example/"}]}""", "routing.schedule[0].at")]
    [InlineData("""{"utm":{"source":""}}""", "routing.utm.source")]
    [InlineData("""{"fallbackUrl":"ftp://a.example/"}""", "routing.fallbackUrl")]
    [InlineData("""{"timeZone":"CEST"}""", "routing.timeZone")]
    public void Bad_routing_is_refused_naming_the_field(string json, string field)
    {
        var (rules, error, _) = Check(json);
        Assert.Null(rules);
        Assert.Equal(field, error?.Field);
        Assert.StartsWith(field + ": ", error!.Message);
    }

    [Fact]
    public void More_than_twenty_rules_are_refused()
    {
        var rules = string.Join(',', Enumerable.Range(0, 21).Select(i => $$"""{"when":{"country":["FR"]},"target":"https://a.example/{{i}}"}"""));
        Assert.Equal("routing.rules", Check($$"""{"rules":[{{rules}}]}""").Error?.Field);
    }

    [Fact]
    public void Unknown_fields_are_refused_when_read() =>
        Assert.Throws<System.Text.Json.JsonException>(() => RoutingRules.FromJson("""{"rules":[{"target":"https://a.example/","whne":{}}]}"""));

    [Fact]
    public void Rules_that_can_never_match_are_allowed_but_flagged()
    {
        var (rules, error, warnings) = Check("""
            {"rules":[
              {"id":"gone","when":{"time":{"startDate":"2026-01-01","endDate":"2026-05-31"}},"target":"https://a.example/"},
              {"id":"upside","when":{"time":{"startDate":"2026-09-01","endDate":"2026-08-01"}},"target":"https://a.example/"},
              {"id":"empty","when":{"country":[]},"target":"https://a.example/"},
              {"id":"zero","split":[{"target":"https://a.example/","weight":0}]},
              {"id":"all","target":"https://b.example/"},
              {"id":"after","when":{"os":["ios"]},"target":"https://c.example/"}
            ]}
            """);

        Assert.Null(error);
        Assert.Equal(6, rules!.Rules!.Count);
        Assert.Equal(
            ["routing.rules[0].when.time.endDate", "routing.rules[1].when.time", "routing.rules[2].when.country", "routing.rules[3].split", "routing.rules[5]"],
            warnings.Select(w => w.Field));
        Assert.Contains("rule 'all'", warnings[^1].Message);
    }

    [Fact]
    public void Routing_is_normalised_ids_by_position_values_in_canonical_case_urls_in_punycode_schedule_sorted()
    {
        var (rules, error, warnings) = Check("""
            {"rules":[{"when":{"device":["Mobile"],"country":["fr"],"os":["iOS"]},"split":[{"target":"https://bücher.example/a"},{"target":"https://b.example/"}]}],
             "schedule":[{"at":"2027-01-01T00:00:00+01:00","target":"https://y.example/"},{"at":"2026-12-01T00:00:00Z","target":"https://x.example/"}]}
            """);

        Assert.Null(error);
        Assert.Empty(warnings);
        var rule = rules!.Rules![0];
        Assert.Equal("r1", rule.Id);
        Assert.Equal(["a", "b"], rule.Split!.Select(v => v.Id));
        Assert.Equal("https://xn--bcher-kva.example/a", rule.Split![0].Target);
        Assert.Equal(["mobile"], rule.When!.Device!);
        Assert.Equal(["FR"], rule.When!.Country!);
        Assert.Equal(["ios"], rule.When!.Os!);
        Assert.Equal(["https://x.example/", "https://y.example/"], rules.Schedule!.Select(s => s.Target));
        // What is stored reads back to the same routing.
        Assert.Equal(rules.ToJson(), RoutingRules.FromJson(rules.ToJson()).ToJson());
    }
}
