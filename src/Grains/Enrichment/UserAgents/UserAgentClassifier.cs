using InvexQr.Grains.Caching;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace InvexQr.Grains.Enrichment.UserAgents;

/// <summary>
/// Browser, OS and device type of a user agent, cached by UA string (a bounded LRU: the same
/// handful of phone UAs make up most scans). Without a readable regexes.yaml every scan is still
/// redirected: browser and OS are unknown and only the bot rules apply.
/// </summary>
public sealed class UserAgentClassifier : IUserAgentClassifier
{
    private readonly UserAgentParser? _parser;
    private readonly LruCache<string, ClientInfo> _cache;

    public UserAgentClassifier(IOptions<UserAgentOptions> options, ILogger<UserAgentClassifier> logger)
    {
        _cache = new LruCache<string, ClientInfo>(Math.Max(1, options.Value.CacheSize));
        var path = Path.GetFullPath(options.Value.RegexesPath);
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var rules = UapRegexes.Load(path, TimeSpan.FromMilliseconds(options.Value.MatchTimeoutMs));
            _parser = new UserAgentParser(rules);
            logger.LogInformation(
                "User-agent rules loaded from {Path} in {Elapsed} ms: {Browsers} browser, {Oses} OS, {Devices} device rules ({Skipped} skipped)",
                path, (int)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                rules.UserAgents.Count, rules.Oses.Count, rules.Devices.Count, rules.Skipped);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException or InvalidCastException or KeyNotFoundException)
        {
            Problem = $"User-agent rules not usable at {path}: {ex.Message}. Browser and OS are stored as unknown.";
            logger.LogWarning("{Problem}", Problem);
        }
    }

    /// <summary>Why browsers and OSes are unknown, or null when the rules are loaded.</summary>
    public string? Problem { get; }

    public LruCache<string, ClientInfo> Cache => _cache;

    public ClientInfo Classify(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return new ClientInfo(null, null, DeviceClassifier.Bot, IsBot: true);
        }

        return _cache.GetOrAdd(userAgent, ClassifyUncached);
    }

    public ClientInfo ClassifyUncached(string userAgent)
    {
        if (_parser is null)
        {
            var bot = DeviceClassifier.LooksLikeBot(userAgent);
            return new ClientInfo(null, null, bot ? DeviceClassifier.Bot : DeviceClassifier.OtherType, bot);
        }

        var details = _parser.Parse(userAgent);
        var deviceType = DeviceClassifier.Classify(userAgent, details);
        return new ClientInfo(
            details.BrowserFamily == UserAgentDetails.Other ? null : details.BrowserFamily,
            details.OsFamily == UserAgentDetails.Other ? null : details.OsFamily,
            deviceType,
            deviceType == DeviceClassifier.Bot);
    }
}
