using InvexQr.Abstractions;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Live;

/// <summary>
/// This gateway's side of the live view: the open streams, counted per owner and in all, and one loop that, while any
/// stream is open, polls the live hub every <see cref="PollInterval"/> for the deltas of the streams' topics and hands
/// each delta to the streams that watch its topic. One poll per gateway, whatever the number of viewers.
/// </summary>
public sealed class LiveFeed(IClusterClient cluster, GrainCallerTokens tokens, IOptions<LiveOptions> options, TimeProvider clock, ILogger<LiveFeed> logger)
    : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly LiveOptions _options = options.Value;
    private readonly string _gateway = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
    private readonly Dictionary<LiveTopic, List<LiveViewer>> _viewers = [];
    private readonly Dictionary<long, int> _perOwner = [];
    private readonly SemaphoreSlim _wake = new(0);
    private int _open;

    /// <summary>Streams open on this gateway (metrics, tests).</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>A new viewer of <paramref name="topic"/>, or null with the reason when a limit is reached.</summary>
    public LiveViewer? TryOpen(LiveTopic topic, out string? refusal)
    {
        lock (_viewers)
        {
            if (_open >= _options.MaxStreamsPerGateway)
            {
                refusal = $"This gateway serves at most {_options.MaxStreamsPerGateway} live streams at once (Live:MaxStreamsPerGateway).";
                return null;
            }

            var owned = _perOwner.GetValueOrDefault(topic.OwnerId);
            if (owned >= _options.MaxStreamsPerOwner)
            {
                refusal = $"An owner may have at most {_options.MaxStreamsPerOwner} live streams open at once (Live:MaxStreamsPerOwner); close one first.";
                return null;
            }

            var viewer = new LiveViewer(topic, clock);
            if (!_viewers.TryGetValue(topic, out var list))
            {
                _viewers[topic] = list = [];
            }

            list.Add(viewer);
            _perOwner[topic.OwnerId] = owned + 1;
            _open++;
            refusal = null;
            if (_open == 1)
            {
                _wake.Release();
            }

            return viewer;
        }
    }

    public void Close(LiveViewer viewer)
    {
        lock (_viewers)
        {
            if (!_viewers.TryGetValue(viewer.Topic, out var list) || !list.Remove(viewer))
            {
                return;
            }

            if (list.Count == 0)
            {
                _viewers.Remove(viewer.Topic);
            }

            if (--_perOwner[viewer.Topic.OwnerId] == 0)
            {
                _perOwner.Remove(viewer.Topic.OwnerId);
            }

            _open--;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        long cursor = 0;
        var subscribed = false;
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            LiveTopic[] topics;
            lock (_viewers)
            {
                topics = [.. _viewers.Keys];
            }

            try
            {
                if (topics.Length == 0)
                {
                    if (subscribed)
                    {
                        // The last stream closed: end this gateway's interest now rather than when its lease lapses.
                        await PollAsync([], cursor);
                        subscribed = false;
                    }

                    cursor = 0;
                    await _wake.WaitAsync(stoppingToken);
                    continue;
                }

                var batch = await PollAsync(topics, cursor);
                subscribed = true;
                failures = 0;
                // The first poll (cursor 0) only subscribes: it starts the stream from now on.
                cursor = batch.Cursor;
                Dispatch(batch);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                if (++failures % 40 == 1)
                {
                    logger.LogWarning(ex, "Live view: the live hub did not answer ({Failures} in a row); retrying", failures);
                }
            }

            try
            {
                await Task.Delay(PollInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<LiveBatch> PollAsync(LiveTopic[] topics, long cursor)
    {
        using (GrainCaller.Act(GrainCaller.Operator, tokens))
        {
            return await cluster.GetGrain<ILiveHubGrain>(0).Poll(_gateway, topics, cursor);
        }
    }

    private void Dispatch(LiveBatch batch)
    {
        lock (_viewers)
        {
            if (batch.Gap)
            {
                foreach (var viewer in _viewers.Values.SelectMany(v => v))
                {
                    viewer.Offer(new LiveDelta(viewer.Topic, 0, []), gap: true);
                }
            }

            foreach (var delta in batch.Deltas)
            {
                if (_viewers.TryGetValue(delta.Topic, out var viewers))
                {
                    viewers.ForEach(v => v.Offer(delta, gap: false));
                }
            }
        }
    }
}
