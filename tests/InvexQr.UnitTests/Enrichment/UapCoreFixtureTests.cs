using System.Diagnostics;
using InvexQr.Enrichment.UserAgents;
using Xunit.Abstractions;

namespace InvexQr.UnitTests.Enrichment;

/// <summary>
/// uap-core's own conformance fixtures, run through our parser with the regexes.yaml of the same
/// release (see <see cref="DataFiles.UapFixturesDir"/>): every file uap-core's test suite runs,
/// compared field by field (family, versions; brand, model) as its reference implementation does.
/// Thresholds: 100% of browser and OS cases, at least 99.9% of device cases. The same fixtures are
/// then run against the product's rules (the npm package, possibly a newer release, whose changes
/// may legitimately alter a few answers): at least 99% of each kind.
/// </summary>
public sealed class UapCoreFixtureTests(ITestOutputHelper output)
{
    private const double BrowserThreshold = 1.0, OsThreshold = 1.0, DeviceThreshold = 0.999, ProductRulesThreshold = 0.99;

    private static readonly string[] BrowserFiles =
    [
        "tests/test_ua.yaml", "test_resources/firefox_user_agent_strings.yaml", "test_resources/pgts_browser_list.yaml",
        "test_resources/opera_mini_user_agent_strings.yaml", "test_resources/podcasting_user_agent_strings.yaml",
    ];

    private static readonly string[] OsFiles = ["tests/test_os.yaml", "test_resources/additional_os_tests.yaml"];

    private static readonly string[] DeviceFiles = ["tests/test_device.yaml"];

    private static readonly string[] BrowserFields = ["family", "major", "minor", "patch"];
    private static readonly string[] OsFields = ["family", "major", "minor", "patch", "patch_minor"];
    private static readonly string[] DeviceFields = ["family", "brand", "model"];

    private static readonly Lazy<UserAgentParser> FixtureRules = new(() => new UserAgentParser(Path.Combine(DataFiles.UapFixturesDir, "regexes.yaml")));

    private static readonly Lazy<UserAgentParser> ProductRules = new(() => new UserAgentParser(DataFiles.UapRegexes));

    [Fact]
    public void Browser_fixtures_pass()
    {
        var parser = FixtureRules.Value;
        var rate = Run(BrowserFiles, BrowserFields, ua => parser.ParseBrowser(ua) is var b ? [b.Family, b.Major, b.Minor, b.Patch] : []);
        Assert.True(rate >= BrowserThreshold, $"browser fixtures: {rate:P3} passed, below {BrowserThreshold:P1}");
    }

    [Fact]
    public void Os_fixtures_pass()
    {
        var parser = FixtureRules.Value;
        var rate = Run(OsFiles, OsFields, ua => parser.ParseOs(ua) is var o ? [o.Family, o.Major, o.Minor, o.Patch, o.PatchMinor] : []);
        Assert.True(rate >= OsThreshold, $"OS fixtures: {rate:P3} passed, below {OsThreshold:P1}");
    }

    [Fact]
    public void Device_fixtures_pass()
    {
        var parser = FixtureRules.Value;
        var rate = Run(DeviceFiles, DeviceFields, ua => parser.ParseDevice(ua) is var d ? [d.Family, d.Brand, d.Model] : []);
        Assert.True(rate >= DeviceThreshold, $"device fixtures: {rate:P3} passed, below {DeviceThreshold:P1}");
    }

    [Fact]
    public void The_products_rules_pass_the_fixtures_too()
    {
        var parser = ProductRules.Value;
        output.WriteLine($"product rules: {parser.Source}; fixtures: {DataFiles.UapFixturesDir}");
        var rates = new[]
        {
            ("browser", Run(BrowserFiles, BrowserFields, ua => parser.ParseBrowser(ua) is var b ? [b.Family, b.Major, b.Minor, b.Patch] : [])),
            ("OS", Run(OsFiles, OsFields, ua => parser.ParseOs(ua) is var o ? [o.Family, o.Major, o.Minor, o.Patch, o.PatchMinor] : [])),
            ("device", Run(DeviceFiles, DeviceFields, ua => parser.ParseDevice(ua) is var d ? [d.Family, d.Brand, d.Model] : [])),
        };

        foreach (var (kind, rate) in rates)
        {
            Assert.True(rate >= ProductRulesThreshold, $"{kind} fixtures with the product's rules: {rate:P3} passed, below {ProductRulesThreshold:P0}");
        }
    }

    [Fact]
    public void The_fixture_rules_compile_completely()
    {
        var parser = FixtureRules.Value;
        output.WriteLine($"{parser.Source}: {parser.BrowserRuleCount} browser, {parser.OsRuleCount} OS, {parser.DeviceRuleCount} device rules, loaded in {parser.LoadTime.TotalMilliseconds:F0} ms");
        Assert.Empty(parser.RejectedRules);
    }

    private double Run(string[] files, string[] fields, Func<string, string?[]> parse)
    {
        int passed = 0, total = 0;
        var started = Stopwatch.GetTimestamp();
        foreach (var file in files)
        {
            var path = Path.Combine(DataFiles.UapFixturesDir, file);
            if (!File.Exists(path) && file.StartsWith("test_resources/", StringComparison.Ordinal))
            {
                output.WriteLine($"{file}: not present");
                continue;
            }

            // Parsed on every core (the parser is thread-safe), compared in file order.
            var cases = UapFixtures.Load(path).ToList();
            var answers = new string?[cases.Count][];
            Parallel.For(0, cases.Count, i => answers[i] = parse(cases[i]["user_agent_string"] ?? string.Empty));
            int filePassed = 0, fileTotal = 0, shown = 0;
            for (var c = 0; c < cases.Count; c++)
            {
                var testCase = cases[c];
                var actual = answers[c];
                var wrong = new List<string>();
                for (var i = 0; i < fields.Length; i++)
                {
                    var expected = testCase.GetValueOrDefault(fields[i]);
                    if (!string.Equals(expected, actual[i], StringComparison.Ordinal))
                    {
                        wrong.Add($"{fields[i]} '{actual[i]}' != '{expected}'");
                    }
                }

                fileTotal++;
                if (wrong.Count == 0)
                {
                    filePassed++;
                }
                else if (shown++ < 10)
                {
                    output.WriteLine($"  FAIL {string.Join(", ", wrong)}: {testCase["user_agent_string"]}");
                }
            }

            output.WriteLine($"{file}: {filePassed}/{fileTotal} passed ({(double)filePassed / Math.Max(1, fileTotal):P3})");
            passed += filePassed;
            total += fileTotal;
        }

        var rate = (double)passed / Math.Max(1, total);
        output.WriteLine($"total: {passed}/{total} passed ({rate:P3}) in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
        Assert.True(total > 0, "no fixture cases found");
        return rate;
    }
}
