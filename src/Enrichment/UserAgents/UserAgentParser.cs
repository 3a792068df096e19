using System.Diagnostics;
using System.Text.RegularExpressions;

namespace InvexQr.Enrichment.UserAgents;

/// <summary>
/// A user-agent parser of our own over uap-core's <c>regexes.yaml</c> (the data behind every ua-parser port),
/// following uap-core's <c>docs/specification.md</c>: each list (browser, OS, device) is tried in file order and the
/// first unanchored match wins, with the <c>*_replacement</c> rules and <c>$1</c>..<c>$9</c> substitutions; no match
/// is family "Other". Beyond it, for safety: user agents are cut to <see cref="MaxLength"/> characters, every regex
/// has a match timeout, and a regex that times out twice in a row makes its list answer "Other" (counted in
/// <see cref="Timeouts"/>). Loaded interpreted, compiled rule by rule as they are used (see <see cref="UapRule"/>);
/// thread-safe; uncached (use <see cref="UserAgentCache"/>).
/// </summary>
public sealed class UserAgentParser
{
    /// <summary>User agents are cut to this many characters before matching.</summary>
    public const int MaxLength = 512;

    /// <summary>The match timeout of each regex unless one is given.</summary>
    public static readonly TimeSpan DefaultMatchTimeout = TimeSpan.FromMilliseconds(250);

    private readonly UapRules _rules;
    private long _timeouts;

    /// <summary>Loads <c>regexes.yaml</c> from <paramref name="regexesPath"/>.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="YamlDotNet.Core.YamlException">The file is not YAML.</exception>
    /// <exception cref="InvalidDataException">The file is not shaped like regexes.yaml.</exception>
    public UserAgentParser(string regexesPath, TimeSpan? matchTimeout = null)
        : this(LoadFile(regexesPath, matchTimeout ?? DefaultMatchTimeout, out var loadTime), loadTime)
    {
        Source = Path.GetFullPath(regexesPath);
    }

    private UserAgentParser(UapRules rules, TimeSpan loadTime)
    {
        _rules = rules;
        LoadTime = loadTime;
    }

    /// <summary>A parser over rules given as YAML text (tests, embedded rules).</summary>
    public static UserAgentParser FromYaml(TextReader yaml, TimeSpan? matchTimeout = null)
    {
        var started = Stopwatch.GetTimestamp();
        var rules = UapRules.Load(yaml, matchTimeout ?? DefaultMatchTimeout);
        return new UserAgentParser(rules, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The full path of the regexes.yaml read, or null for rules given as text.</summary>
    public string? Source { get; }

    /// <summary>How long reading and parsing the rules took.</summary>
    public TimeSpan LoadTime { get; }

    /// <summary>Rules whose regex has been compiled so far (the others are still interpreted).</summary>
    public int CompiledRuleCount => _rules.Browsers.Concat(_rules.Oses).Concat(_rules.Devices).Count(r => r.IsCompiled);

    /// <summary>Regexes of any parser in this process queued for compiling and not compiled yet.</summary>
    public static int PendingCompiles => BackgroundRegexCompiler.Pending;

    public int BrowserRuleCount => _rules.Browsers.Length;

    public int OsRuleCount => _rules.Oses.Length;

    public int DeviceRuleCount => _rules.Devices.Length;

    /// <inheritdoc cref="UapRules.Rejected"/>
    public IReadOnlyList<string> RejectedRules => _rules.Rejected;

    /// <summary>Lists that answered "Other" because one of their regexes timed out (twice), since load.</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <summary>Browser, OS, device and device type of a user agent; <see cref="UserAgentInfo.Unknown"/> for an empty one.</summary>
    public UserAgentInfo Parse(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return UserAgentInfo.Unknown;
        }

        var ua = Truncate(userAgent);
        var browser = ParseBrowserCore(ua);
        var os = ParseOsCore(ua);
        var device = ParseDeviceCore(ua);
        return new UserAgentInfo(browser, os, device, DeviceClassifier.Classify(ua, os, device));
    }

    /// <summary>The <c>user_agent_parsers</c> answer alone.</summary>
    public BrowserInfo ParseBrowser(string? userAgent) =>
        string.IsNullOrEmpty(userAgent) ? BrowserInfo.Other : ParseBrowserCore(Truncate(userAgent));

    /// <summary>The <c>os_parsers</c> answer alone.</summary>
    public OsInfo ParseOs(string? userAgent) =>
        string.IsNullOrEmpty(userAgent) ? OsInfo.Other : ParseOsCore(Truncate(userAgent));

    /// <summary>The <c>device_parsers</c> answer alone.</summary>
    public DeviceInfo ParseDevice(string? userAgent) =>
        string.IsNullOrEmpty(userAgent) ? DeviceInfo.Other : ParseDeviceCore(Truncate(userAgent));

    /// <summary>The part of a user agent that is parsed (and cached by): at most <see cref="MaxLength"/> characters.</summary>
    public static string Truncate(string userAgent) => userAgent.Length > MaxLength ? userAgent[..MaxLength] : userAgent;

    private BrowserInfo ParseBrowserCore(string ua)
    {
        if (FirstMatch(_rules.Browsers, ua) is not (UapRule rule, Match m))
        {
            return BrowserInfo.Other;
        }

        return new BrowserInfo(rule.Field(m, 0, 1) ?? UserAgentInfo.OtherFamily, rule.Field(m, 1, 2), rule.Field(m, 2, 3), rule.Field(m, 3, 4));
    }

    private OsInfo ParseOsCore(string ua)
    {
        if (FirstMatch(_rules.Oses, ua) is not (UapRule rule, Match m))
        {
            return OsInfo.Other;
        }

        return new OsInfo(
            rule.Field(m, 0, 1) ?? UserAgentInfo.OtherFamily, rule.Field(m, 1, 2), rule.Field(m, 2, 3), rule.Field(m, 3, 4), rule.Field(m, 4, 5));
    }

    private DeviceInfo ParseDeviceCore(string ua)
    {
        if (FirstMatch(_rules.Devices, ua) is not (UapRule rule, Match m))
        {
            return DeviceInfo.Other;
        }

        return new DeviceInfo(rule.Field(m, 0, 1) ?? UserAgentInfo.OtherFamily, rule.Field(m, 1, 0), rule.Field(m, 2, 1));
    }

    private (UapRule Rule, Match Match)? FirstMatch(UapRule[] rules, string ua)
    {
        foreach (var rule in rules)
        {
            Match match;
            try
            {
                match = rule.Match(ua);
            }
            catch (RegexMatchTimeoutException)
            {
                // The timeout is wall-clock time: a thread descheduled on a busy machine or a GC pause
                // can exceed it on an innocent string. One more try tells those from a pathological
                // string, which times out again.
                try
                {
                    match = rule.Match(ua);
                }
                catch (RegexMatchTimeoutException)
                {
                    // This list answers "Other" rather than guessing with a later, less specific
                    // rule, and the scan goes on.
                    Interlocked.Increment(ref _timeouts);
                    return null;
                }
            }

            if (match.Success)
            {
                return (rule, match);
            }
        }

        return null;
    }

    private static UapRules LoadFile(string path, TimeSpan matchTimeout, out TimeSpan loadTime)
    {
        var started = Stopwatch.GetTimestamp();
        using var reader = File.OpenText(path);
        var rules = UapRules.Load(reader, matchTimeout);
        loadTime = Stopwatch.GetElapsedTime(started);
        return rules;
    }
}
