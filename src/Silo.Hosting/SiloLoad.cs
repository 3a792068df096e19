namespace InvexQr.Silo.Hosting;

/// <summary>
/// Whether the cores this silo runs on are saturated, from Linux's CPU pressure (PSI): the share of time in which some
/// runnable task waited for a core — of the silo's container when cgroup v2 reports it, else of the host. It counts
/// every process on those cores (PostgreSQL, a co-located gateway) and a CPU limit's throttling, which the silo's own
/// thread pool does not see: a woken thread is scheduled promptly even on a saturated host. Sampled ten times a
/// second and smoothed. Work that can wait (webhook delivery: its queue is durable in PostgreSQL) asks it before taking
/// its share, so that scans go first. Without PSI (not Linux, or a kernel without it) it never reports saturation.
/// </summary>
public sealed class SiloLoad : IDisposable
{
    /// <summary>Smoothed share of time with a task waiting for a core above which the cores count as saturated...</summary>
    public const double SaturatedAbove = 0.6;

    /// <summary>...and below which they count as free again (the gap keeps a noisy sample from flipping it).</summary>
    public const double FreeBelow = 0.3;

    /// <summary>Where the pressure is read unless <c>Silo:CpuPressureFile</c> names a file: the container's cgroup (v2), else the host.</summary>
    public static readonly string[] DefaultSources = ["/sys/fs/cgroup/cpu.pressure", "/proc/pressure/cpu"];

    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(100);
    private readonly TimeProvider _clock;
    private readonly ITimer? _timer;
    private readonly string? _source;
    private long _lastStalledUs = -1;
    private long _lastAt;
    private double _pressure;
    private int _sampling;
    private volatile bool _saturated;

    /// <summary>Reads the first of <paramref name="sources"/> that holds a PSI <c>some … total=</c> line (see <see cref="Create"/>).</summary>
    public SiloLoad(TimeProvider clock, ILogger<SiloLoad> logger, IEnumerable<string> sources)
    {
        _clock = clock;
        _source = sources.FirstOrDefault(path => ReadStalledUs(path) is not null);
        if (_source is null)
        {
            logger.LogInformation("CPU pressure (PSI) is not available here: background work does not yield to scans under load");
            return;
        }

        _timer = clock.CreateTimer(static s => ((SiloLoad)s!).Sample(), this, TimeSpan.Zero, SampleEvery);
    }

    /// <summary>
    /// The silo's probe: of <paramref name="configuredFile"/> (<c>Silo:CpuPressureFile</c>, e.g. a cgroup's
    /// <c>cpu.pressure</c> mounted elsewhere), which must then hold PSI, else of <see cref="DefaultSources"/>.
    /// </summary>
    public static SiloLoad Create(TimeProvider clock, ILogger<SiloLoad> logger, string? configuredFile)
    {
        if (string.IsNullOrWhiteSpace(configuredFile))
        {
            return new SiloLoad(clock, logger, DefaultSources);
        }

        return ReadStalledUs(configuredFile) is null
            ? throw new InvalidOperationException(
                $"Silo:CpuPressureFile '{configuredFile}' is not a readable CPU pressure file (a line 'some avg10=… total=…'); unset it to use {string.Join(" or ", DefaultSources)}.")
            : new SiloLoad(clock, logger, [configuredFile]);
    }

    /// <summary>True while the smoothed pressure is above <see cref="SaturatedAbove"/>, until it falls below <see cref="FreeBelow"/>.</summary>
    public bool Saturated => _saturated;

    /// <summary>The smoothed share of time (0 to 1) in which some task waited for a core; 0 without PSI.</summary>
    public double Pressure => Volatile.Read(ref _pressure);

    /// <summary>The file read, or null without PSI.</summary>
    public string? Source => _source;

    public void Dispose() => _timer?.Dispose();

    private void Sample()
    {
        if (Interlocked.Exchange(ref _sampling, 1) == 1)
        {
            return; // timer callbacks may overlap on a saturated host
        }

        try
        {
            var now = _clock.GetTimestamp();
            if (ReadStalledUs(_source!) is not { } stalled)
            {
                return;
            }

            if (_lastStalledUs >= 0 && now > _lastAt)
            {
                var share = Math.Clamp((stalled - _lastStalledUs) / _clock.GetElapsedTime(_lastAt, now).TotalMicroseconds, 0, 1);
                // Weight 0.3: one busy sample moves the average a third of the way; a few in a row decide.
                var pressure = (_pressure * 0.7) + (share * 0.3);
                Volatile.Write(ref _pressure, pressure);
                _saturated = pressure > SaturatedAbove || (_saturated && pressure >= FreeBelow);
            }

            _lastStalledUs = stalled;
            _lastAt = now;
        }
        finally
        {
            Volatile.Write(ref _sampling, 0);
        }
    }

    /// <summary>The <c>total=</c> of the <c>some</c> line: microseconds in which some task waited for a core.</summary>
    public static long? ReadStalledUs(string path)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                if (!line.StartsWith("some ", StringComparison.Ordinal))
                {
                    continue;
                }

                var at = line.IndexOf(" total=", StringComparison.Ordinal);
                return at >= 0 && long.TryParse(line.AsSpan(at + 7), out var total) ? total : null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            // Missing (no PSI), or a cgroup that does not expose it: not a source.
        }

        return null;
    }
}
