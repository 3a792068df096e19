using InvexQr.Grains.Enrichment.UserAgents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace InvexQr.UnitTests.Enrichment;

public sealed class UserAgentClassifierTests(ITestOutputHelper output)
{
    private static readonly Lazy<UserAgentClassifier> Classifier = new(() => new UserAgentClassifier(
        Options.Create(new UserAgentOptions { RegexesPath = DataFiles.UapRegexes }), NullLogger<UserAgentClassifier>.Instance));

    public static TheoryData<string, string> DeviceTypes()
    {
        var data = new TheoryData<string, string>();
        foreach (var (ua, type, _, _) in RealUserAgents.All)
        {
            data.Add(ua, type);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DeviceTypes))]
    public void Real_user_agents_get_the_expected_device_type(string userAgent, string expected)
    {
        var client = Classifier.Value.Classify(userAgent);

        Assert.Equal(expected, client.DeviceType);
        Assert.Equal(expected == "bot", client.IsBot);
    }

    [Fact]
    public void Browser_and_os_families_match_uap_core_for_the_real_set()
    {
        var checkedFields = 0;
        var wrong = new List<string>();
        foreach (var (ua, _, browser, os) in RealUserAgents.All)
        {
            var client = Classifier.Value.ClassifyUncached(ua);
            if (browser is not null)
            {
                checkedFields++;
                if (client.Browser != browser)
                {
                    wrong.Add($"browser {client.Browser} != {browser}: {ua}");
                }
            }

            if (os is not null)
            {
                checkedFields++;
                if (client.Os != os)
                {
                    wrong.Add($"os {client.Os} != {os}: {ua}");
                }
            }
        }

        output.WriteLine($"{RealUserAgents.All.Length} user agents, {checkedFields} browser/OS fields checked, {wrong.Count} wrong");
        Assert.Empty(wrong);
    }

    [Fact]
    public void Every_rule_of_regexes_yaml_compiles()
    {
        var rules = UapRegexes.Load(DataFiles.UapRegexes, TimeSpan.FromMilliseconds(50));

        output.WriteLine($"{rules.UserAgents.Count} browser, {rules.Oses.Count} OS, {rules.Devices.Count} device rules; {rules.Skipped} skipped");
        Assert.Equal(0, rules.Skipped);
        Assert.True(rules.UserAgents.Count > 300 && rules.Oses.Count > 100 && rules.Devices.Count > 400);
    }

    [Fact]
    public void Replacement_templates_fill_in_captures_as_the_specification_shows()
    {
        var parser = new UserAgentParser(UapRegexes.Load(DataFiles.UapRegexes, TimeSpan.FromMilliseconds(50)));

        var details = parser.Parse("Mozilla/5.0 (Windows; Windows NT 5.1; rv:2.0b3pre) Gecko/20100727 Minefield/4.0.1pre");

        Assert.Equal("Firefox (Minefield)", details.BrowserFamily);
        Assert.Equal("4", details.BrowserMajor);
        Assert.Equal("0", details.BrowserMinor);
        Assert.Equal("1pre", details.BrowserPatch);
    }

    [Fact]
    public void Missing_rules_still_classify_bots_and_explain_why()
    {
        var classifier = new UserAgentClassifier(Options.Create(new UserAgentOptions { RegexesPath = "/nonexistent/regexes.yaml" }), NullLogger<UserAgentClassifier>.Instance);

        Assert.Contains("/nonexistent/regexes.yaml", classifier.Problem);
        Assert.True(classifier.Classify("curl/8.4.0").IsBot);
        Assert.Equal("other", classifier.Classify(RealUserAgents.All[0].Ua).DeviceType);
    }

    [Fact]
    public void Huge_user_agents_are_cut_and_answered()
    {
        var client = Classifier.Value.ClassifyUncached("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) " + new string('(', 100_000));

        Assert.Equal("mobile", client.DeviceType);
    }
}
