using System.Collections.Concurrent;
using InvexQr.Grains.Protection;
using InvexQr.Data;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// Keeps today's and tomorrow's salts in memory (the scan path reads them without I/O), refreshed
/// every minute, and deletes salts older than yesterday. Until the database has answered once,
/// <see cref="SaltFor"/> returns null and scans are recorded without a visitor hash.
/// </summary>
public sealed class DailySalts(SaltRepository repository, TimeProvider clock, ILogger<DailySalts> logger) : BackgroundService, IDailySalts
{
    private static readonly TimeSpan RefreshPeriod = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<DateOnly, byte[]> _salts = new();

    public byte[]? SaltFor(DateOnly day) => _salts.TryGetValue(day, out var salt) ? salt : null;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Best effort before the silo takes scans; the loop keeps trying if the database is away.
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await RefreshAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(ex, "Could not load the daily privacy salt yet; scans carry no visitor hash until it is");
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RefreshPeriod, clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Could not refresh the daily privacy salts");
            }
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        foreach (var day in new[] { today, today.AddDays(1) })
        {
            if (!_salts.ContainsKey(day))
            {
                _salts[day] = await repository.GetOrCreateAsync(day, cancellationToken);
            }
        }

        // Yesterday's salt stays a day for scans stamped just before midnight; older ones go.
        foreach (var day in _salts.Keys.Where(d => d < today.AddDays(-1)))
        {
            _salts.TryRemove(day, out _);
        }

        await repository.DeleteBeforeAsync(today.AddDays(-1), cancellationToken);
    }
}
