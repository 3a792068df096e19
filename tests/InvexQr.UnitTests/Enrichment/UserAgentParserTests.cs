using InvexQr.Enrichment.UserAgents;
namespace InvexQr.UnitTests.Enrichment;

/// <summary>The replacement rules of uap-core's specification, on small rule sets written here, and the parser's own limits.</summary>
public sealed class UserAgentParserTests
{
    private static UserAgentParser Rules(string yaml, TimeSpan? timeout = null) => UserAgentParser.FromYaml(new StringReader(yaml), timeout);

    private const string Empty = "user_agent_parsers: []\nos_parsers: []\ndevice_parsers: []\n";

    [Fact]
    public void Browser_family_replacement_fills_in_group_1_and_versions_come_from_groups_2_to_4()
    {
        // The specification's example.
        var parser = Rules("""
            user_agent_parsers:
              - regex: '(Namoroka|Shiretoko|Minefield)/(\d+)\.(\d+)\.(\d+(?:pre)?)'
                family_replacement: 'Firefox ($1)'
            os_parsers: []
            device_parsers: []
            """);

        var browser = parser.ParseBrowser("Mozilla/5.0 (Windows; Windows NT 5.1; rv:2.0b3pre) Gecko/20100727 Minefield/4.0.1pre");

        Assert.Equal(new BrowserInfo("Firefox (Minefield)", "4", "0", "1pre"), browser);
        Assert.Equal("4.0.1pre", browser.Version);
    }

    [Fact]
    public void Without_replacements_groups_map_in_order_and_missing_groups_are_null()
    {
        var parser = Rules("""
            user_agent_parsers:
              - regex: '(Luminary)/(\d+)(?:\.(\d+))?(?:\.(\d+))?'
            os_parsers:
              - regex: '(Windows NT) (\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?'
            device_parsers:
              - regex: '; (Pixel \d+)\)'
            """);

        Assert.Equal(new BrowserInfo("Luminary", "70", null, null), parser.ParseBrowser("Luminary/70 CFNetwork/978.0.7 Darwin/18.5.0"));
        Assert.Equal(new OsInfo("Windows NT", "10", "0", "19045", "3803"), parser.ParseOs("(Windows NT 10.0.19045.3803)"));
        Assert.Equal("10.0.19045.3803", parser.ParseOs("(Windows NT 10.0.19045.3803)").Version);
        // Device: family and model default to group 1; brand has no default group.
        Assert.Equal(new DeviceInfo("Pixel 8", null, "Pixel 8"), parser.ParseDevice("Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome"));
    }

    [Fact]
    public void Os_replacements_take_any_group_and_replace_versions()
    {
        var parser = Rules("""
            user_agent_parsers: []
            os_parsers:
              - regex: 'Win(95|98|3.1|NT|ME|2000)'
                os_replacement: 'Windows $1'
              - regex: 'CPU OS (\d+)_(\d+) like Mac'
                os_replacement: 'iPadOS'
                os_v1_replacement: '$1'
                os_v2_replacement: '$2'
                os_v3_replacement: '0'
                os_v4_replacement: 'x$9'
            device_parsers: []
            """);

        Assert.Equal(new OsInfo("Windows 95", null, null, null, null), parser.ParseOs("Mozilla/5.0 (Windows; U; Win95; en-US; rv:1.1) Gecko/20020826"));
        Assert.Equal(new OsInfo("iPadOS", "17", "2", "0", "x"), parser.ParseOs("(iPad; CPU OS 17_2 like Mac OS X)"));
    }

    [Fact]
    public void Device_replacements_substitute_every_group_and_are_trimmed()
    {
        // The specification's example, then a rule whose optional group did not take part.
        var parser = Rules("""
            user_agent_parsers: []
            os_parsers: []
            device_parsers:
              - regex: '; *(PEDI)_(PLUS)_(W) Build'
                device_replacement: 'Odys $1 $2 $3'
                brand_replacement: 'Odys'
                model_replacement: '$1 $2 $3'
              - regex: '; *(SM-[A-Z]\d+)( [A-Z]+)? Build'
                device_replacement: 'Samsung $1$2'
                brand_replacement: '$3'
                model_replacement: ' $1 '
            """);

        Assert.Equal(
            new DeviceInfo("Odys PEDI PLUS W", "Odys", "PEDI PLUS W"),
            parser.ParseDevice("Mozilla/5.0 (Linux; U; Android 4.2.2; de-de; PEDI_PLUS_W Build/JDQ39) AppleWebKit/534.30 (KHTML, like Gecko) Version/4.0 Safari/534.30"));
        // $2 did not take part and $3 does not exist: both are "", the results are trimmed, an empty brand is not defined.
        Assert.Equal(new DeviceInfo("Samsung SM-A536", null, "SM-A536"), parser.ParseDevice("(Linux; Android 13; SM-A536 Build/TP1A)"));
    }

    [Fact]
    public void Matching_is_case_sensitive_unless_regex_flag_i()
    {
        var parser = Rules("""
            user_agent_parsers: []
            os_parsers: []
            device_parsers:
              - regex: 'Kindle/(\d)'
                device_replacement: 'Kindle'
                brand_replacement: 'Amazon'
                model_replacement: 'Kindle $1'
              - regex: 'nokia(\w+)'
                regex_flag: 'i'
                device_replacement: 'Nokia $1'
                brand_replacement: 'Nokia'
                model_replacement: '$1'
            """);

        Assert.Equal(new DeviceInfo("Kindle", "Amazon", "Kindle 3"), parser.ParseDevice("Safari/531.2+ Kindle/3.0+"));
        Assert.Equal(DeviceInfo.Other, parser.ParseDevice("Safari/531.2+ KINDLE/3.0+"));
        Assert.Equal(new DeviceInfo("Nokia 6300", "Nokia", "6300"), parser.ParseDevice("NOKIA6300/2.0 Profile/MIDP-2.0"));
    }

    [Fact]
    public void The_first_matching_rule_wins_anywhere_in_the_string_and_no_match_is_Other()
    {
        var parser = Rules("""
            user_agent_parsers:
              - regex: '(Edg)/(\d+)'
                family_replacement: 'Edge'
              - regex: '(Chrome)/(\d+)'
            os_parsers: []
            device_parsers: []
            """);

        Assert.Equal(new BrowserInfo("Edge", "120", null, null), parser.ParseBrowser("Mozilla/5.0 Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"));
        Assert.Equal(new BrowserInfo("Chrome", "121", null, null), parser.ParseBrowser("Mozilla/5.0 Chrome/121.0.0.0 Safari/537.36"));
        var nothing = parser.Parse("Lynx/2.8.9rel.1");
        Assert.Equal(BrowserInfo.Other, nothing.Browser);
        Assert.Equal(OsInfo.Other, nothing.Os);
        Assert.Equal(DeviceInfo.Other, nothing.Device);
        Assert.Null(nothing.Browser.Version);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void An_empty_user_agent_is_all_Other_and_a_bot(string? userAgent)
    {
        var parser = Rules(Empty);

        Assert.Same(UserAgentInfo.Unknown, parser.Parse(userAgent));
        Assert.Equal("Other", parser.Parse(userAgent).Browser.Family);
        Assert.Equal(DeviceTypes.Bot, parser.Parse(userAgent).DeviceType);
    }

    [Fact]
    public void A_regex_that_times_out_makes_its_list_answer_Other_without_an_exception()
    {
        var parser = Rules("""
            user_agent_parsers:
              - regex: '^(\w+\s?)+$'
                family_replacement: 'Catastrophic'
              - regex: '(a)'
                family_replacement: 'Later rule'
            os_parsers:
              - regex: '(aaa)'
                os_replacement: 'Fine'
            device_parsers: []
            """, TimeSpan.FromMilliseconds(250)); // the first rule never ends; the others need microseconds, even on a busy machine

        var info = parser.Parse(new string('a', 60) + "!");

        Assert.Equal(BrowserInfo.Other, info.Browser);
        Assert.Equal("Fine", info.Os.Family);
        Assert.Equal(1, parser.Timeouts);
    }

    [Fact]
    public async Task Rules_start_interpreted_and_those_tried_often_are_compiled_in_the_background_with_the_same_answers()
    {
        var parser = Rules("""
            user_agent_parsers:
              - regex: '(Luminary)/(\d+)\.(\d+)'
              - regex: '(Umbra)/(\d+)'
            os_parsers:
              - regex: '(Windows NT) (\d+)\.(\d+)'
            device_parsers:
              - regex: '; (Pixel \d+)\)'
                regex_flag: 'i'
            """);
        const string ua = "Mozilla/5.0 (Windows NT 10.0; pixel 8) Luminary/4.2";
        var interpreted = parser.Parse(ua);
        Assert.Equal(0, parser.CompiledRuleCount);

        // Every try of the first browser, the OS and the device rule counts; "Umbra" is never reached.
        for (var i = 1; i < 64; i++)
        {
            Assert.Equal(interpreted, parser.Parse(ua));
        }

        // One process-wide worker compiles for every parser: the fixture tests running beside this one may have queued
        // a thousand rules ahead of these three. Wait while the queue drains, not for a fixed time.
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (parser.CompiledRuleCount < 3 && DateTime.UtcNow < deadline)
        {
            var pending = UserAgentParser.PendingCompiles;
            await Task.Delay(20);
            Assert.True(pending > 0 || UserAgentParser.PendingCompiles > 0 || parser.CompiledRuleCount == 3,
                $"the compile queue is empty and {parser.CompiledRuleCount} of 3 rules are compiled");
        }

        Assert.Equal(3, parser.CompiledRuleCount);
        Assert.Equal(interpreted, parser.Parse(ua));
        Assert.Equal(new BrowserInfo("Luminary", "4", "2", null), interpreted.Browser);
        Assert.Equal("pixel 8", interpreted.Device.Family); // regex_flag i: the capture keeps the user agent's case
    }

    [Fact]
    public void User_agents_are_cut_to_512_characters_before_matching()
    {
        var parser = Rules("""
            user_agent_parsers:
              - regex: '(Tail)/(\d+)'
            os_parsers:
              - regex: '(iPhone) OS (\d+)_(\d+)'
                os_replacement: 'iOS'
            device_parsers: []
            """);
        var head = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) ";

        var info = parser.Parse(head + new string('(', 100_000) + " Tail/1");

        Assert.Equal(new OsInfo("iOS", "17", "4", null, null), info.Os);
        Assert.Equal(BrowserInfo.Other, info.Browser);
        Assert.Equal("Tail", parser.ParseBrowser(head + " Tail/1").Family);
        Assert.Equal(512, UserAgentParser.Truncate(new string('x', 1000)).Length);
    }

    [Fact]
    public void Malformed_rule_files_are_refused_with_a_reason()
    {
        Assert.Throws<InvalidDataException>(() => Rules("os_parsers: []\ndevice_parsers: []\n"));
        Assert.Throws<InvalidDataException>(() => Rules("user_agent_parsers:\n  - family_replacement: 'x'\nos_parsers: []\ndevice_parsers: []\n"));
        Assert.ThrowsAny<IOException>(() => new UserAgentParser("/nonexistent/regexes.yaml"));

        var parser = Rules("user_agent_parsers:\n  - regex: '(unclosed'\n  - regex: '(Fine)'\nos_parsers: []\ndevice_parsers: []\n");
        Assert.Single(parser.RejectedRules);
        Assert.Equal(1, parser.BrowserRuleCount);
        Assert.Equal("Fine", parser.ParseBrowser("Fine").Family);
    }
}
