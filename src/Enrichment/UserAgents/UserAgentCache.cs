using InvexQr.Enrichment.Caching;
using InvexQr.Abstractions;

namespace InvexQr.Enrichment.UserAgents;

/// <summary>
/// A bounded, thread-safe LRU cache of parsed user agents in front of a <see cref="UserAgentParser"/>.
/// Scans come from a small set of distinct user agents (the same few phone builds and browser
/// versions), so nearly every lookup is a hit and the 1,000+ regexes run once per distinct string.
/// Keys are the user agent cut to <see cref="UserAgentParser.MaxLength"/> characters (what is parsed),
/// so a flood of huge strings cannot grow the cache past capacity × 512 characters. Two threads that
/// miss on the same key at once may both parse it; both results are equal.
/// </summary>
public sealed class UserAgentCache
{
    public const int DefaultCapacity = 10_000;

    private readonly UserAgentParser _parser;
    private readonly LruCache<string, UserAgentInfo> _cache;
    private readonly Func<string, UserAgentInfo> _parse;

    public UserAgentCache(UserAgentParser parser, int capacity = DefaultCapacity)
    {
        ArgumentNullException.ThrowIfNull(parser);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _parser = parser;
        Capacity = capacity;
        _cache = new LruCache<string, UserAgentInfo>(capacity);
        _parse = parser.Parse;
    }

    public UserAgentParser Parser => _parser;

    public int Capacity { get; }

    public int Count => _cache.Count;

    public long Hits => _cache.Hits;

    public long Misses => _cache.Misses;

    /// <summary>The parse of <paramref name="userAgent"/>, from the cache when seen recently; empty gives <see cref="UserAgentInfo.Unknown"/>.</summary>
    public UserAgentInfo Get(string? userAgent) =>
        string.IsNullOrWhiteSpace(userAgent) ? UserAgentInfo.Unknown : _cache.GetOrAdd(UserAgentParser.Truncate(userAgent), _parse);
}
