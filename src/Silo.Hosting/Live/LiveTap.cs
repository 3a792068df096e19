using System.Collections.Concurrent;
using InvexQr.Abstractions;
using InvexQr.Grains.Live;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// The silo's live tap (<see cref="ILiveTap"/>). It learns the watched topics from the live hub and, every
/// <see cref="Interval"/> while something is watched, publishes one coalesced delta per watched topic that had scans
/// (a count and the last <see cref="RecentPerDelta"/> scans). Nothing watched: a scan costs one field read, and the
/// tap asks the hub once every <see cref="IdleInterval"/> whether that changed.
/// </summary>
public sealed class LiveTap(IGrainFactory grains, GrainCallerTokens tokens, TimeProvider clock, ILogger<LiveTap> logger)
    : BackgroundService, ILiveTap
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan IdleInterval = TimeSpan.FromSeconds(1);
    public const int RecentPerDelta = 8;

    private volatile Watch? _watch;
    private readonly ConcurrentDictionary<LiveTopic, Counter> _counters = new();

    /// <summary>True while some topic is watched (tests).</summary>
    public bool Watching => _watch is not null;

    public void Record(long ownerId, string code, DateTimeOffset at, GeoLocation? location)
    {
        if (_watch is not { } watch)
        {
            return;
        }

        var owner = watch.Owners.Contains(ownerId);
        var single = watch.Codes.TryGetValue(ownerId, out var codes) && codes.Contains(code);
        if (!owner && !single)
        {
            return;
        }

        var scan = new LiveScan(code, at, location?.CountryCode, location?.City, location?.Latitude, location?.Longitude);
        if (owner)
        {
            _counters.GetOrAdd(new LiveTopic(ownerId, null), _ => new Counter()).Add(scan);
        }

        if (single)
        {
            _counters.GetOrAdd(new LiveTopic(ownerId, codes!.TryGetValue(code, out var canonical) ? canonical : code), _ => new Counter()).Add(scan);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long version = 0;
        var failures = 0;
        // The silo starts after this service: give it a moment before the first call.
        try
        {
            await Task.Delay(IdleInterval, clock, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            var deltas = TakeDeltas();
            try
            {
                LiveWatchSet? set;
                using (GrainCaller.Act(GrainCaller.Operator, tokens))
                {
                    set = await grains.GetGrain<ILiveHubGrain>(0).Publish(deltas, version);
                }

                if (set is not null)
                {
                    version = set.Version;
                    _watch = set.Topics.Length == 0 ? null : new Watch(set.Topics);
                    foreach (var topic in _counters.Keys.Where(t => !set.Topics.Contains(t)))
                    {
                        _counters.TryRemove(topic, out _);
                    }
                }

                failures = 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Live deltas are best effort: a lost one only makes a live view lag the stats. Unreachable hub for
                // long: stop counting rather than keep stale watches.
                if (++failures == 20)
                {
                    logger.LogWarning(ex, "The live hub is unreachable; live views get no scans from this silo until it answers");
                    _watch = null;
                    version = 0;
                }
            }

            try
            {
                await Task.Delay(_watch is null ? IdleInterval : Interval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private LiveDelta[] TakeDeltas()
    {
        if (_counters.IsEmpty)
        {
            return [];
        }

        var deltas = new List<LiveDelta>();
        foreach (var (topic, counter) in _counters)
        {
            if (counter.Take() is { } taken)
            {
                deltas.Add(new LiveDelta(topic, taken.Scans, taken.Recent));
            }
        }

        return [.. deltas];
    }

    private sealed class Watch
    {
        public Watch(LiveTopic[] topics)
        {
            Owners = topics.Where(t => t.Code is null).Select(t => t.OwnerId).ToHashSet();
            Codes = topics.Where(t => t.Code is not null).GroupBy(t => t.OwnerId)
                .ToDictionary(g => g.Key, g => g.Select(t => t.Code!).ToHashSet(StringComparer.OrdinalIgnoreCase));
        }

        public HashSet<long> Owners { get; }

        public Dictionary<long, HashSet<string>> Codes { get; }
    }

    /// <summary>A topic's scans since the last delta: a count and a small ring of the latest; fixed size whatever the rate.</summary>
    private sealed class Counter
    {
        private readonly LiveScan?[] _recent = new LiveScan?[RecentPerDelta];
        private int _scans;
        private int _next;

        public void Add(LiveScan scan)
        {
            lock (_recent)
            {
                _scans++;
                _recent[_next] = scan;
                _next = (_next + 1) % RecentPerDelta;
            }
        }

        public (int Scans, LiveScan[] Recent)? Take()
        {
            lock (_recent)
            {
                if (_scans == 0)
                {
                    return null;
                }

                var recent = new List<LiveScan>(RecentPerDelta);
                for (var i = 0; i < RecentPerDelta; i++)
                {
                    if (_recent[(_next + i) % RecentPerDelta] is { } scan)
                    {
                        recent.Add(scan);
                    }
                }

                var taken = (_scans, recent.ToArray());
                _scans = 0;
                Array.Clear(_recent);
                _next = 0;
                return taken;
            }
        }
    }
}
