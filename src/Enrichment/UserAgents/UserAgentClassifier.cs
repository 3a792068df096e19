using InvexQr.Abstractions;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InvexQr.Enrichment.UserAgents;

/// <summary>
/// The scan path's view of a user agent (<see cref="ClientInfo"/>): browser, OS and device type from
/// a <see cref="UserAgentParser"/> behind a <see cref="UserAgentCache"/>. Without a readable
/// regexes.yaml every scan is still redirected: browser and OS are unknown, only the bot rules of
/// <see cref="DeviceClassifier"/> apply, and <see cref="Problem"/> says why (the health check reports it).
/// </summary>
public sealed class UserAgentClassifier : IUserAgentClassifier
{
    public UserAgentClassifier(IOptions<UserAgentOptions> options, ILogger<UserAgentClassifier> logger)
    {
        var settings = options.Value;
        var path = Path.GetFullPath(settings.RegexesPath);
        try
        {
            var parser = Load(path, TimeSpan.FromMilliseconds(Math.Max(1, settings.MatchTimeoutMs)));
            Cache = new UserAgentCache(parser, Math.Max(1, settings.CacheSize));
            logger.LogInformation(
                "User-agent rules loaded from {Path} in {Elapsed} ms: {Browsers} browser, {Oses} OS, {Devices} device rules ({Rejected} rejected)",
                path, (int)parser.LoadTime.TotalMilliseconds, parser.BrowserRuleCount, parser.OsRuleCount, parser.DeviceRuleCount,
                parser.RejectedRules.Count);
            foreach (var rejected in parser.RejectedRules)
            {
                logger.LogWarning("uap-core rule not usable: {Rule}", rejected);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException or InvalidDataException)
        {
            Problem = $"User-agent rules not usable at {path}: {ex.Message}. Browser and OS are stored as unknown.";
            logger.LogWarning("{Problem}", Problem);
        }
    }

    // A process loads a rules file once, however many hosts it runs (a co-hosted test suite runs dozens), so the
    // regexes compiled as they are used are compiled once. The parser is thread-safe and holds no per-host state.
    private static readonly Dictionary<(string Path, DateTime Written, TimeSpan Timeout), UserAgentParser> Loaded = [];

    private static UserAgentParser Load(string path, TimeSpan timeout)
    {
        var key = (path, File.GetLastWriteTimeUtc(path), timeout);
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(key, out var parser))
            {
                Loaded[key] = parser = new UserAgentParser(path, timeout);
            }

            return parser;
        }
    }

    /// <summary>Why browsers and OSes are unknown, or null when the rules are loaded.</summary>
    public string? Problem { get; }

    /// <summary>The parse cache, or null when the rules could not be loaded.</summary>
    public UserAgentCache? Cache { get; }

    [MemberNotNullWhen(true, nameof(Cache))]
    public bool IsLoaded => Cache is not null;

    public ClientInfo Classify(string? userAgent) => ToClientInfo(userAgent, Cache?.Get(userAgent));

    /// <summary>As <see cref="Classify"/>, without the cache (benchmarks, tests).</summary>
    public ClientInfo ClassifyUncached(string? userAgent) => ToClientInfo(userAgent, Cache?.Parser.Parse(userAgent));

    private static ClientInfo ToClientInfo(string? userAgent, UserAgentInfo? info)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return new ClientInfo(null, null, DeviceTypes.Bot, IsBot: true); // no UA at all: a script
        }

        if (info is null)
        {
            var bot = DeviceClassifier.LooksLikeBot(userAgent);
            return new ClientInfo(null, null, bot ? DeviceTypes.Bot : DeviceTypes.Other, bot);
        }

        return new ClientInfo(
            info.Browser.Family == UserAgentInfo.OtherFamily ? null : info.Browser.Family,
            info.Os.Family == UserAgentInfo.OtherFamily ? null : info.Os.Family,
            info.DeviceType,
            info.IsBot);
    }
}
