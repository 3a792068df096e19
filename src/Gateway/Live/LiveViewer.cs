using System.Threading.Channels;
using InvexQr.Abstractions;

namespace InvexQr.Gateway.Live;

/// <summary>
/// One open stream's pending update. Deltas are merged into it as they come (counts add up, the recent scans keep the
/// last <see cref="MaxRecent"/>), so a viewer that reads slowly gets fewer, bigger updates and never more memory.
/// </summary>
public sealed class LiveViewer(LiveTopic topic, TimeProvider clock)
{
    public const int MaxRecent = 20;
    public static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(2);

    // Scans per arrival over the rate window: arrivals are a few a second per silo, so this stays small.
    private readonly Queue<(long At, int Scans)> _arrivals = new();
    private readonly Queue<LiveScan> _recent = new();
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _pending;
    private bool _gap;

    public LiveTopic Topic { get; } = topic;

    public void Offer(LiveDelta delta, bool gap)
    {
        lock (_arrivals)
        {
            _pending += delta.Scans;
            _gap |= gap;
            _arrivals.Enqueue((clock.GetTimestamp(), delta.Scans));
            foreach (var scan in delta.Recent)
            {
                _recent.Enqueue(scan);
                if (_recent.Count > MaxRecent)
                {
                    _recent.Dequeue();
                }
            }

            Prune();
        }

        _signal.Writer.TryWrite(true);
    }

    /// <summary>Waits until something was offered (true) or <paramref name="timeout"/> passed (false).</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_signal.Reader.TryRead(out _))
        {
            return true;
        }

        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            await _signal.Reader.WaitToReadAsync(timer.Token);
            return _signal.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>What arrived since the last call, and the scans per second over the last <see cref="RateWindow"/>.</summary>
    public LiveUpdate Take()
    {
        lock (_arrivals)
        {
            Prune();
            var inWindow = _arrivals.Sum(a => (long)a.Scans);
            var update = new LiveUpdate(_pending, Math.Round(inWindow / RateWindow.TotalSeconds, 1), [.. _recent], _gap);
            _pending = 0;
            _gap = false;
            _recent.Clear();
            return update;
        }
    }

    private void Prune()
    {
        var now = clock.GetTimestamp();
        while (_arrivals.Count > 0 && clock.GetElapsedTime(_arrivals.Peek().At, now) > RateWindow)
        {
            _arrivals.Dequeue();
        }
    }
}

public sealed record LiveUpdate(long Scans, double Rate, LiveScan[] Recent, bool Gap);
