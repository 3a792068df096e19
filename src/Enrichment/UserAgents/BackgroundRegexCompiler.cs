using System.Collections.Concurrent;

namespace InvexQr.Enrichment.UserAgents;

/// <summary>
/// Compiles the <see cref="UapRule"/>s that have been used often enough, one at a time on one thread-pool thread:
/// compiling is ~2 ms of CPU per regex, and doing it one by one keeps a gateway that just met many new user agents
/// from spending both cores on it at once. Process-wide, as the parsed rule files are.
/// </summary>
internal static class BackgroundRegexCompiler
{
    private const string Probe = "Mozilla/5.0 (X11; warm-up 1.0) AppleWebKit/537.36 (KHTML, like Gecko)";

    private static readonly ConcurrentQueue<UapRule> Queue = new();
    private static int _draining;
    private static int _pending;
    private static long _compiled;

    /// <summary>Regexes compiled so far in this process.</summary>
    public static long Compiled => Interlocked.Read(ref _compiled);

    /// <summary>Regexes queued or being compiled.</summary>
    public static int Pending => Volatile.Read(ref _pending);

    public static void Enqueue(UapRule rule)
    {
        Interlocked.Increment(ref _pending);
        Queue.Enqueue(rule);
        if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static _ => Drain(), null);
        }
    }

    private static void Drain()
    {
        while (true)
        {
            while (Queue.TryDequeue(out var rule))
            {
                try
                {
                    rule.Compile(Probe);
                    Interlocked.Increment(ref _compiled);
                }
                catch (Exception)
                {
                    // The pattern parsed when it was loaded; should compiling it still fail, it stays interpreted.
                }
                finally
                {
                    Interlocked.Decrement(ref _pending);
                }
            }

            Volatile.Write(ref _draining, 0);
            // A rule queued after the last TryDequeue but before the flag was cleared found the flag set: drain again.
            if (Queue.IsEmpty || Interlocked.CompareExchange(ref _draining, 1, 0) != 0)
            {
                return;
            }
        }
    }
}
