using InvexQr.Abstractions;

namespace InvexQr.Grains.Live;

/// <summary>
/// See <see cref="ILiveHubGrain"/>. In memory only: deltas in a bounded ring (a gateway that falls behind skips what was
/// overwritten and is told so), leases of gateways on topics. After a reactivation the next polls rebuild the leases and
/// the cursors start over (they begin at the activation's clock ticks, so an old cursor is always behind the new one).
/// </summary>
public sealed class LiveHubGrain(TimeProvider clock) : Grain, ILiveHubGrain
{
    public const int Capacity = 4096;
    public const int MaxTopicsPerGateway = 10_000;

    /// <summary>A gateway polls a few times a second while it has viewers; one silent this long has none left, or is gone.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(10);

    private readonly (long Seq, LiveDelta? Delta)[] _ring = new (long, LiveDelta?)[Capacity];
    private readonly Dictionary<string, (HashSet<LiveTopic> Topics, DateTimeOffset Until)> _gateways = new(StringComparer.Ordinal);
    private HashSet<LiveTopic> _watched = [];
    private LiveWatchSet _watch = new(0, []);
    private long _seq;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _seq = clock.GetUtcNow().UtcTicks;
        _watch = new LiveWatchSet(_seq, []);
        return Task.CompletedTask;
    }

    public Task<LiveWatchSet?> Publish(LiveDelta[] deltas, long knownVersion)
    {
        Expire();
        foreach (var delta in deltas)
        {
            if (_watched.Contains(delta.Topic))
            {
                _seq++;
                _ring[_seq % Capacity] = (_seq, delta);
            }
        }

        return Task.FromResult(knownVersion == _watch.Version ? null : _watch);
    }

    public Task<LiveBatch> Poll(string gateway, LiveTopic[] topics, long cursor)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        if (topics.Length > MaxTopicsPerGateway)
        {
            throw new ArgumentException($"At most {MaxTopicsPerGateway} topics per gateway.", nameof(topics));
        }

        if (topics.Length == 0)
        {
            _gateways.Remove(gateway);
            Expire(force: true);
            return Task.FromResult(new LiveBatch(_seq, [], false));
        }

        var set = topics.ToHashSet();
        var changed = !_gateways.TryGetValue(gateway, out var lease) || !lease.Topics.SetEquals(set);
        _gateways[gateway] = (set, clock.GetUtcNow() + Lease);
        Expire(force: changed);
        if (cursor <= 0 || cursor > _seq)
        {
            return Task.FromResult(new LiveBatch(_seq, [], false));
        }

        var oldest = Math.Max(cursor + 1, _seq - Capacity + 1);
        var deltas = new List<LiveDelta>();
        for (var seq = oldest; seq <= _seq; seq++)
        {
            var (at, delta) = _ring[seq % Capacity];
            if (at == seq && delta is not null && set.Contains(delta.Topic))
            {
                deltas.Add(delta);
            }
        }

        return Task.FromResult(new LiveBatch(_seq, [.. deltas], cursor + 1 < oldest));
    }

    /// <summary>Drops lapsed leases and, when the union of topics changed, publishes it under a new version.</summary>
    private void Expire(bool force = false)
    {
        var now = clock.GetUtcNow();
        var lapsed = _gateways.Where(g => g.Value.Until < now).Select(g => g.Key).ToList();
        lapsed.ForEach(g => _gateways.Remove(g));
        if (!force && lapsed.Count == 0)
        {
            return;
        }

        var watched = _gateways.Values.SelectMany(g => g.Topics).ToHashSet();
        if (!watched.SetEquals(_watched))
        {
            _watched = watched;
            _watch = new LiveWatchSet(Math.Max(_watch.Version + 1, now.UtcTicks), [.. watched]);
        }
    }
}
