using InvexQr.Grains.Abstractions;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Scans;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace InvexQr.Grains;

/// <summary>
/// One QR code. Loads its registry row once on activation and answers every scan from memory:
/// a scan never waits on I/O (the raw scan goes to the silo-local sink). Scan and reads are
/// <see cref="AlwaysInterleaveAttribute"/> on the interface, so they keep flowing while a
/// management call or the totals flush awaits the database; management calls stay serialized
/// among themselves.
/// </summary>
public sealed class QrCodeGrain(
    [PersistentState("totals")] IPersistentState<QrCodeTotals> totals,
    ICodeRepository codes,
    IScanSink sink,
    TimeProvider clock,
    ILogger<QrCodeGrain> logger) : Grain, IQrCodeGrain
{
    private static readonly TimeSpan TotalsFlushPeriod = TimeSpan.FromSeconds(5);

    private CodeRecord? _code;
    private long _totalScans;
    private DateTimeOffset? _lastScanAt;
    private bool _totalsDirty;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _code = await codes.FindAsync(this.GetPrimaryKeyString(), cancellationToken);
        _totalScans = totals.State.TotalScans;
        _lastScanAt = totals.State.LastScanAt;
        this.RegisterGrainTimer(FlushTotalsAsync, TotalsFlushPeriod, TotalsFlushPeriod);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        FlushTotalsAsync(cancellationToken);

    public ValueTask<ScanResult> Scan(ScanRequest request)
    {
        var result = Decide();
        if (result.Outcome != ScanOutcome.Redirect)
        {
            return ValueTask.FromResult(result);
        }

        var now = clock.GetUtcNow();
        var scan = new ScanRecord(
            Guid.CreateVersion7(now),
            _code!.Id,
            now,
            IpAnonymizer.Truncate(request.ClientIp),
            request.UserAgent,
            request.Referer,
            request.Location,
            request.Client);

        if (!sink.TryEnqueue(scan))
        {
            // The sink only refuses while the silo is stopping or when it is full: the scan cannot be
            // recorded, so it is not acknowledged either (the gateway answers 503 and the phone retries).
            throw new ScanNotRecordedException(_code.Code);
        }

        _totalScans++;
        _lastScanAt = now;
        _totalsDirty = true;
        return ValueTask.FromResult(result);
    }

    public ValueTask<ScanResult> Resolve() => ValueTask.FromResult(Decide());

    public ValueTask<CodeDetails?> Get() => ValueTask.FromResult(_code is null ? null : ToDetails(_code));

    public async Task<CodeDetails?> Create(CreateCodeCommand command)
    {
        if (_code is not null)
        {
            return null;
        }

        var created = await codes.InsertAsync(this.GetPrimaryKeyString(), command);
        if (created is null)
        {
            return null;
        }

        _code = created;
        logger.LogInformation("Code {Code} created", created.Code);
        return ToDetails(created);
    }

    public async Task<CodeDetails?> Update(long? ownerId, UpdateCodeCommand command)
    {
        if (_code is null || _code.OwnerId != ownerId)
        {
            return null;
        }

        var updated = await codes.UpdateAsync(_code.Code, command);
        _code = updated;
        return updated is null ? null : ToDetails(updated);
    }

    public async Task<bool> Delete(long? ownerId)
    {
        if (_code is null || _code.OwnerId != ownerId)
        {
            return false;
        }

        var deleted = await codes.DeleteAsync(_code.Code);
        logger.LogInformation("Code {Code} deleted with its scans", _code.Code);
        _code = null;
        _totalScans = 0;
        _lastScanAt = null;
        _totalsDirty = false;
        await totals.ClearStateAsync();
        this.DeactivateOnIdle();
        return deleted;
    }

    private ScanResult Decide() => _code switch
    {
        null => ScanResult.NotFound,
        { Status: CodeStatus.Disabled } => ScanResult.Gone,
        _ => new ScanResult(ScanOutcome.Redirect, _code.TargetUrl),
    };

    private CodeDetails ToDetails(CodeRecord code) => new(
        code.Code, code.TargetUrl, code.Title, code.Status, code.CreatedAt, code.UpdatedAt,
        _totalScans, _lastScanAt, code.OwnerId);

    private async Task FlushTotalsAsync(CancellationToken cancellationToken)
    {
        if (!_totalsDirty)
        {
            return;
        }

        // Copy the live counters into a fresh state object: scans that interleave with the write
        // keep counting in the fields and are picked up by the next flush.
        _totalsDirty = false;
        totals.State = new QrCodeTotals { TotalScans = _totalScans, LastScanAt = _lastScanAt };
        try
        {
            await totals.WriteStateAsync(cancellationToken);
        }
        catch (Exception ex)
        {
            _totalsDirty = true;
            logger.LogWarning(ex, "Could not persist totals of {Code}; will retry", this.GetPrimaryKeyString());
        }
    }
}
