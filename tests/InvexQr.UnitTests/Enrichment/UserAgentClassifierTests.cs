using InvexQr.Abstractions;
using System.Diagnostics;
using InvexQr.Enrichment;
using InvexQr.Enrichment.UserAgents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace InvexQr.UnitTests.Enrichment;

/// <summary>
/// The product's rules (npm uap-core's regexes.yaml) on real user agents: device types, families, the
/// cache and the scan path's <see cref="ClientInfo"/>. Timings are printed, never asserted.
/// </summary>
public sealed class UserAgentClassifierTests(ITestOutputHelper output)
{
    private static readonly Lazy<UserAgentParser> Parser = new(() => new UserAgentParser(DataFiles.UapRegexes));

    private static readonly Lazy<UserAgentClassifier> Classifier = new(() => new UserAgentClassifier(
        Options.Create(new UserAgentOptions { RegexesPath = DataFiles.UapRegexes }), NullLogger<UserAgentClassifier>.Instance));

    public static TheoryData<string, string> ExpectedDeviceTypes()
    {
        var data = new TheoryData<string, string>();
        foreach (var (ua, type, _, _) in RealUserAgents.All)
        {
            data.Add(ua, type);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ExpectedDeviceTypes))]
    public void Real_user_agents_get_the_expected_device_type(string userAgent, string expected)
    {
        var info = Parser.Value.Parse(userAgent);

        Assert.True(expected == info.DeviceType, $"{info.DeviceType} instead of {expected}: {info}");
        Assert.Equal(expected == "bot", info.IsBot);
    }

    [Fact]
    public void Device_type_accuracy_on_the_real_set_is_reported()
    {
        var byType = RealUserAgents.All.GroupBy(x => x.Type).ToDictionary(g => g.Key, g => (Total: g.Count(), Right: 0));
        var right = 0;
        foreach (var (ua, type, _, _) in RealUserAgents.All)
        {
            var actual = Parser.Value.Parse(ua).DeviceType;
            if (actual == type)
            {
                right++;
                byType[type] = (byType[type].Total, byType[type].Right + 1);
            }
            else
            {
                output.WriteLine($"WRONG {actual} (expected {type}): {ua}");
            }
        }

        var accuracy = (double)right / RealUserAgents.All.Length;
        output.WriteLine($"device type accuracy: {right}/{RealUserAgents.All.Length} ({accuracy:P1}); " +
            string.Join(", ", byType.Select(t => $"{t.Key} {t.Value.Right}/{t.Value.Total}")));
        Assert.True(RealUserAgents.All.Length >= 40);
        Assert.True(accuracy >= 0.95, $"device type accuracy {accuracy:P1} is below 95%");
    }

    [Fact]
    public void Browser_and_os_families_match_uap_core_for_the_real_set()
    {
        var checkedFields = 0;
        var wrong = new List<string>();
        foreach (var (ua, _, browser, os) in RealUserAgents.All)
        {
            var info = Parser.Value.Parse(ua);
            if (browser is not null)
            {
                checkedFields++;
                if (info.Browser.Family != browser)
                {
                    wrong.Add($"browser '{info.Browser.Family}' != '{browser}': {ua}");
                }
            }

            if (os is not null)
            {
                checkedFields++;
                if (info.Os.Family != os)
                {
                    wrong.Add($"os '{info.Os.Family}' != '{os}': {ua}");
                }
            }
        }

        wrong.ForEach(output.WriteLine);
        output.WriteLine($"{RealUserAgents.All.Length} user agents, {checkedFields} browser/OS families checked, {wrong.Count} wrong");
        Assert.Empty(wrong);
    }

    [Fact]
    public void Every_rule_of_the_products_regexes_yaml_is_accepted()
    {
        var parser = Parser.Value;

        output.WriteLine($"{parser.Source}: {parser.BrowserRuleCount} browser, {parser.OsRuleCount} OS, {parser.DeviceRuleCount} device rules; " +
            $"read in {parser.LoadTime.TotalMilliseconds:F0} ms");
        Assert.Empty(parser.RejectedRules);
        Assert.True(parser.BrowserRuleCount > 300 && parser.OsRuleCount > 100 && parser.DeviceRuleCount > 400);
    }

    [Fact]
    public void Full_answers_for_common_user_agents()
    {
        var iphone = Parser.Value.Parse(RealUserAgents.All[0].Ua);
        Assert.Equal(new BrowserInfo("Mobile Safari", "17", "4", null), iphone.Browser);
        Assert.Equal(new OsInfo("iOS", "17", "4", null, null), iphone.Os);
        Assert.Equal(new DeviceInfo("iPhone", "Apple", "iPhone"), iphone.Device);

        var samsung = Parser.Value.Parse("Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36");
        Assert.Equal(new BrowserInfo("Samsung Internet", "23", "0", null), samsung.Browser);
        Assert.Equal("13", samsung.Os.Major);
        Assert.Equal(new DeviceInfo("Samsung SM-S918B", "Samsung", "SM-S918B"), samsung.Device);

        var bot = Parser.Value.Parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        Assert.Equal("Spider", bot.Device.Family);
        Assert.Equal(new BrowserInfo("Googlebot", "2", "1", null), bot.Browser);
    }

    [Fact]
    public void The_cache_answers_repeats_without_parsing_and_stays_within_capacity()
    {
        var cache = new UserAgentCache(Parser.Value, capacity: 8);
        var ua = RealUserAgents.All[4].Ua;

        var first = cache.Get(ua);
        var second = cache.Get(ua);
        Assert.Same(first, second);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(1, cache.Misses);

        foreach (var (other, _, _, _) in RealUserAgents.All.Take(30))
        {
            cache.Get(other);
        }

        Assert.Equal(8, cache.Count);
        Assert.Same(UserAgentInfo.Unknown, cache.Get(null));
        Assert.Same(UserAgentInfo.Unknown, cache.Get(""));
    }

    [Fact]
    public void The_cache_keys_by_the_parsed_prefix_so_huge_strings_share_an_entry()
    {
        var cache = new UserAgentCache(Parser.Value, capacity: 4);
        var head = RealUserAgents.All[0].Ua + new string(' ', 600);

        var a = cache.Get(head + "a");
        var b = cache.Get(head + new string('(', 100_000));

        Assert.Same(a, b);
        Assert.Equal(1, cache.Count);
        Assert.Equal(DeviceTypes.Mobile, a.DeviceType);
    }

    [Fact]
    public async Task The_cache_is_safe_under_concurrent_use()
    {
        var cache = new UserAgentCache(Parser.Value, capacity: 16);
        var uas = RealUserAgents.All.Select(x => x.Ua).Where(x => x.Length > 0).ToArray();
        var expected = uas.Select(Parser.Value.Parse).ToArray();

        var workers = Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                var k = (i * 7 + w) % uas.Length;
                Assert.Equal(expected[k], cache.Get(uas[k]));
            }
        }));
        await Task.WhenAll(workers);

        Assert.True(cache.Count <= 16);
        Assert.Equal(4_000, cache.Hits + cache.Misses);
    }

    [Fact]
    public void The_readmes_iphone_example_gets_what_the_readme_promises()
    {
        // The README's proxied scan: its -A user agent must classify as the sentence after it says.
        var readme = File.ReadAllText(Path.Combine(DataFiles.RepoRoot, "README.md"));
        var ua = System.Text.RegularExpressions.Regex.Match(readme, @"-A '(Mozilla/5\.0 \(iPhone[^']+)'").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(ua), "README.md has no iPhone user agent after -A");
        Assert.Contains("browser `Mobile Safari`, OS `iOS`, device `mobile`", readme);
        Assert.Equal(new ClientInfo("Mobile Safari", "iOS", "mobile", false), Classifier.Value.Classify(ua));
    }

    [Fact]
    public void The_scan_path_gets_browser_os_device_type_and_bot_flag()
    {
        var classifier = Classifier.Value;
        Assert.Null(classifier.Problem);

        Assert.Equal(new ClientInfo("Mobile Safari", "iOS", "mobile", false), classifier.Classify(RealUserAgents.All[0].Ua));
        Assert.Equal(new ClientInfo("Googlebot", null, "bot", true), classifier.Classify("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"));
        Assert.True(classifier.Classify(null).IsBot);
        Assert.True(classifier.Classify("").IsBot);
        Assert.Equal(classifier.Classify(RealUserAgents.All[5].Ua), classifier.ClassifyUncached(RealUserAgents.All[5].Ua));
    }

    [Fact]
    public void Missing_rules_still_classify_bots_and_explain_why()
    {
        var classifier = new UserAgentClassifier(Options.Create(new UserAgentOptions { RegexesPath = "/nonexistent/regexes.yaml" }), NullLogger<UserAgentClassifier>.Instance);

        Assert.Contains("/nonexistent/regexes.yaml", classifier.Problem);
        Assert.False(classifier.IsLoaded);
        Assert.True(classifier.Classify("curl/8.4.0").IsBot);
        Assert.Equal(new ClientInfo(null, null, "other", false), classifier.Classify(RealUserAgents.All[0].Ua));
    }
}
