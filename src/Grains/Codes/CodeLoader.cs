using InvexQr.Grains.Caching;

namespace InvexQr.Grains.Codes;

/// <summary>
/// The silo's one way to read codes. Lookups that arrive while a read is in flight wait and go together in the next
/// one (<c>WHERE code = ANY(…)</c>), so a thousand cold scans of the moment cost a handful of round trips, not a
/// thousand, and an idle database sees one query per lookup with no added delay. A code looked up for its existence
/// is kept for a moment for the activation that usually follows; codes that do not exist are remembered for a few
/// seconds, so a flood of one unknown code reads the database once per <see cref="NegativeTtl"/>.
/// </summary>
public sealed class CodeLoader(ICodeRepository codes, TimeProvider clock)
{
    internal static readonly TimeSpan NegativeTtl = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HandOverTtl = TimeSpan.FromSeconds(2);
    private const int MaxBatch = 1000;
    private const int MaxReadsInFlight = 4;

    private readonly ExpiringSet _unknown = new(100_000, NegativeTtl, clock);
    private readonly ExpiringCache<StoredCode> _handOver = new(20_000, HandOverTtl, clock);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, TaskCompletionSource<StoredCode?>> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TaskCompletionSource<StoredCode?>> _reading = new(StringComparer.Ordinal);
    private int _readsInFlight;
    private long _reads;

    /// <summary>Round trips to the database so far.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    /// <summary>Whether <paramref name="code"/> exists; its row is kept briefly for its activation.</summary>
    public async ValueTask<bool> ExistsAsync(string code)
    {
        if (_unknown.Contains(code))
        {
            return false;
        }

        var stored = await ReadAsync(code);
        if (stored is not null)
        {
            _handOver.Set(code, stored);
        }

        return stored is not null;
    }

    /// <summary>The code's row and totals for an activation; null when it does not exist.</summary>
    public ValueTask<StoredCode?> LoadAsync(string code)
    {
        // Taken once: a row that waited here is at most HandOverTtl old, and never serves a second activation.
        if (_handOver.TryGet(code, out var stored))
        {
            _handOver.Remove(code);
            return ValueTask.FromResult<StoredCode?>(stored);
        }

        return _unknown.Contains(code) ? ValueTask.FromResult<StoredCode?>(null) : new ValueTask<StoredCode?>(ReadAsync(code));
    }

    /// <summary>The code was created, changed or deleted here: nothing remembered about it may be used again.</summary>
    public void Forget(string code)
    {
        _handOver.Remove(code);
        _unknown.Remove(code);
    }

    private Task<StoredCode?> ReadAsync(string code)
    {
        TaskCompletionSource<StoredCode?> pending;
        lock (_gate)
        {
            if (_reading.TryGetValue(code, out var inFlight) || _waiting.TryGetValue(code, out inFlight))
            {
                return inFlight.Task;
            }

            pending = new TaskCompletionSource<StoredCode?>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[code] = pending;
            if (_readsInFlight >= MaxReadsInFlight)
            {
                return pending.Task; // goes with the next read that starts
            }

            _readsInFlight++;
        }

        _ = ReadBatchesAsync();
        return pending.Task;
    }

    /// <summary>Reads what waits, then what came meanwhile, until nothing waits.</summary>
    private async Task ReadBatchesAsync()
    {
        while (true)
        {
            Dictionary<string, TaskCompletionSource<StoredCode?>> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _readsInFlight--;
                    return;
                }

                batch = new Dictionary<string, TaskCompletionSource<StoredCode?>>(Math.Min(_waiting.Count, MaxBatch), StringComparer.Ordinal);
                foreach (var (code, waiter) in _waiting)
                {
                    batch[code] = waiter;
                    _reading[code] = waiter;
                    if (batch.Count == MaxBatch)
                    {
                        break;
                    }
                }

                foreach (var code in batch.Keys)
                {
                    _waiting.Remove(code);
                }
            }

            IReadOnlyDictionary<string, StoredCode>? found = null;
            Exception? failure = null;
            try
            {
                Interlocked.Increment(ref _reads);
                found = await codes.LoadAsync(batch.Keys.ToArray());
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            lock (_gate)
            {
                foreach (var code in batch.Keys)
                {
                    _reading.Remove(code);
                }
            }

            foreach (var (code, waiter) in batch)
            {
                if (failure is not null)
                {
                    waiter.TrySetException(failure);
                }
                else if (found!.TryGetValue(code, out var stored))
                {
                    waiter.TrySetResult(stored);
                }
                else
                {
                    _unknown.Add(code);
                    waiter.TrySetResult(null);
                }
            }
        }
    }
}
