using InvexQr.Abstractions;
using InvexQr.Grains.Analytics;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Live;
using InvexQr.Grains.Protection;
using InvexQr.Grains.Routing;
using InvexQr.Grains.Scans;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace InvexQr.Grains;

/// <summary>
/// One QR code. Loads its registry row once on activation and answers every scan from memory:
/// a scan never waits on I/O. The raw scan goes to the silo-local scan sink, what it adds to the rollups to the
/// silo-local rollup sink; both only queue. Scan and reads are <see cref="Orleans.Concurrency.AlwaysInterleaveAttribute"/>
/// on the interface, so they keep flowing while a management call awaits the database; they are synchronous, so they
/// never run in parallel with each other within the activation.
/// </summary>
public sealed class QrCodeGrain(
    ICodeRepository codes,
    CodeLoader loader,
    IScanSink sink,
    IRollupSink rollups,
    ILiveTap live,
    IDailySalts salts,
    IOptions<ThrottleOptions> throttleOptions,
    IOptions<PrivacyOptions> privacyOptions,
    TimeProvider clock,
    ILogger<QrCodeGrain> logger) : Grain, IQrCodeGrain
{
    private readonly ThrottleOptions _throttle = throttleOptions.Value;
    private readonly PrivacyOptions _privacy = privacyOptions.Value;
    private ClientTracker? _clients;
    private CodeRecord? _code;
    private long _totalScans;
    private DateTimeOffset? _lastScanAt;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Just after a database restart the pool's idle connections are dead: the first reads fail at once
        // and a retry gets a fresh connection. Still failing means the database is down: say it in a form the
        // caller can read (activation failures do not pass through the silo's call filters).
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await LoadAsync(cancellationToken);
                break;
            }
            catch (Exception ex) when (DatabaseUnavailableException.IsUnavailable(ex))
            {
                if (attempt == 3)
                {
                    throw new DatabaseUnavailableException("The code could not be loaded: the database is unavailable.");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken);
            }
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        // One read, batched with the other activations of the moment: the row and the lifetime totals, to which the
        // silo's rollup sink adds what it counted and has not written yet (a reactivation right after a deactivation).
        if (await loader.LoadAsync(this.GetPrimaryKeyString()).AsTask().WaitAsync(cancellationToken) is { } stored)
        {
            _code = stored.Record;
            _totalScans = stored.TotalScans + rollups.UnwrittenScans(stored.Record.Id);
            _lastScanAt = stored.LastScanAt;
        }
    }

    // No timer and nothing to write: an active code nobody scans costs no CPU; its totals are the rollup sink's.
    // The address memory comes with the first scan: codes activated to be read or edited never need it.
    private ClientTracker Clients => _clients ??= new ClientTracker(_throttle.MaxTrackedClients);

    public ValueTask<ScanResult> Scan(ScanRequest request)
    {
        var result = Decide();
        if (result.Outcome != ScanOutcome.Redirect)
        {
            return ValueTask.FromResult(result);
        }

        var code = _code!;
        var now = clock.GetUtcNow();
        var address = request.ClientIp;
        var client = address is null ? default : ClientTracker.KeyOf(address);
        if (address is not null && !Clients.TryTake(
                client, now.UtcTicks, code.ThrottleBurst ?? _throttle.Burst, code.ThrottlePerMinute ?? _throttle.PerMinute, out var retryAfter))
        {
            // Counted, never stored as a row: a flood cannot fill the database.
            rollups.CountThrottled(code.Id, now);
            return ValueTask.FromResult(ScanResult.Throttled(retryAfter));
        }

        // The row, the counters and the hour bucket all use the scan's own time, so that they agree with each other.
        var scannedAt = request.ScannedAt ?? now;
        var isBot = request.Client?.IsBot ?? false;
        // Repeats are people scanning again from the same address; bots neither repeat nor make a person's scan one.
        var isRepeat = !isBot && address is not null && Clients.MarkScanned(client, now.UtcTicks, _throttle.RepeatWindow);
        var salt = salts.SaltFor(DateOnly.FromDateTime(scannedAt.UtcDateTime));
        var optedOut = request.DoNotTrack && _privacy.HonorDoNotTrack;
        var visitor = optedOut ? null : VisitorHash.Of(salt, address, request.UserAgent);
        var route = Route(code, request, scannedAt, salt, visitor, ref result);
        // An opted-out visitor keeps their country (coarse enough for the map) and nothing finer.
        var location = optedOut && request.Location is { } full
            ? full with { Subdivision = null, City = null, Latitude = null, Longitude = null }
            : request.Location;
        var scan = new ScanRecord(
            request.ScanId == Guid.Empty ? Guid.CreateVersion7(scannedAt) : request.ScanId,
            code.Id,
            scannedAt,
            optedOut ? null : StoredAddress(address, salt),
            request.UserAgent,
            request.Referer,
            location,
            request.Client,
            isRepeat,
            (long?)visitor,
            route);

        if (!sink.TryEnqueue(scan, out var written))
        {
            // The sink only refuses while the silo is stopping or when it is full: the scan cannot be
            // recorded, so it is not acknowledged either (the gateway answers 503 and the phone retries).
            throw new ScanNotRecordedException(code.Code);
        }

        rollups.Count(code.Id, new ScanFacts(scannedAt, isBot, isRepeat, location, request.Client, visitor, route));
        if (code.OwnerId is { } owner)
        {
            live.Record(owner, code.Code, scannedAt, location);
        }

        _totalScans++;
        _lastScanAt = scannedAt > _lastScanAt || _lastScanAt is null ? scannedAt : _lastScanAt;
        // Buffered: answered now. Committed: answered when the scan's batch is committed; the method is
        // interleaved, so other scans go on meanwhile.
        return written.IsCompletedSuccessfully ? ValueTask.FromResult(result) : AfterWrittenAsync(written, result);
    }

    private static async ValueTask<ScanResult> AfterWrittenAsync(Task written, ScanResult result)
    {
        await written;
        return result;
    }

    // HEAD carries no scan details: rules on device, OS, country or language do not apply; time and schedule do.
    public ValueTask<ScanResult> Resolve()
    {
        var result = Decide();
        return ValueTask.FromResult(result.Outcome == ScanOutcome.Redirect && _code!.Routing is { } routing
            ? result with { TargetUrl = routing.Route(ScanContext.None, clock.GetUtcNow()).Target }
            : result);
    }

    /// <summary>Applies the code's routing rules (from memory, no I/O); the rule or variant that decided, null without rules.</summary>
    private static string? Route(CodeRecord code, ScanRequest request, DateTimeOffset at, byte[]? salt, ulong? visitor, ref ScanResult result)
    {
        if (code.Routing is not { } routing)
        {
            return null;
        }

        // A split stays sticky on the day's visitor hash; one who opted out is hashed in memory only, never stored
        // (and without the day's salt, on address and user agent, in memory only too).
        var key = visitor ?? VisitorHash.Of(salt, request.ClientIp, request.UserAgent)
            ?? RoutingTable.VisitorKeyOf($"{request.ClientIp}\n{request.UserAgent}");
        var decision = routing.Route(
            new ScanContext(request.Client?.DeviceType, request.Client?.Os, request.Location?.CountryCode, request.AcceptLanguage, request.QueryString, key), at);
        result = result with { TargetUrl = decision.Target };
        return decision.Route;
    }

    public ValueTask<CodeDetails?> Get() => ValueTask.FromResult(_code is null ? null : ToDetails(_code));

    public async Task<CodeDetails?> Create(CreateCodeCommand command)
    {
        if (_code is not null)
        {
            return null;
        }

        var created = await codes.InsertAsync(this.GetPrimaryKeyString(), command);
        loader.Forget(this.GetPrimaryKeyString());
        if (created is null)
        {
            return null;
        }

        logger.LogInformation("Code {Code} created", created.Code);
        _code = created;
        return ToDetails(created);
    }

    public async Task<CodeDetails?> Update(long? ownerId, UpdateCodeCommand command)
    {
        if (_code is null || _code.OwnerId != ownerId)
        {
            return null;
        }

        var updated = await codes.UpdateAsync(_code.Code, command);
        loader.Forget(_code.Code);
        _code = updated;
        return updated is null ? null : ToDetails(updated);
    }

    public async Task Refresh(long? ownerId)
    {
        if (_code is null || _code.OwnerId != ownerId)
        {
            return;
        }

        // Forgotten first: a row the loader kept for a moment (hand-over) may predate the edit. Totals stay the grain's.
        loader.Forget(_code.Code);
        var stored = await loader.LoadAsync(_code.Code);
        _code = stored?.Record;
    }

    public async Task<bool> Delete(long? ownerId)
    {
        if (_code is null || _code.OwnerId != ownerId)
        {
            return false;
        }

        // Rollups the sink still holds for it are not written: every rollup write skips codes that no longer exist.
        var deleted = await codes.DeleteAsync(_code.Code);
        loader.Forget(_code.Code);
        logger.LogInformation("Code {Code} deleted with its scans", _code.Code);
        _code = null;
        _totalScans = 0;
        _lastScanAt = null;
        this.DeactivateOnIdle();
        return deleted;
    }

    private ScanResult Decide()
    {
        if (_code is null)
        {
            // Scanned but never created (gateways send unknown codes here, each client only a few): nothing to keep.
            this.DeactivateOnIdle();
            return ScanResult.NotFound;
        }

        return _code.GoneAt(clock.GetUtcNow(), _totalScans) is { } reason ? ScanResult.Gone(reason, _code.FallbackUrl) : new ScanResult(ScanOutcome.Redirect, _code.TargetUrl);
    }

    private string? StoredAddress(string? address, byte[]? salt) => _privacy.IpMode switch
    {
        IpStorageMode.None => address,
        IpStorageMode.Drop => null,
        IpStorageMode.Hash => VisitorHash.OfAddress(salt, address),
        _ => IpAnonymizer.Truncate(address),
    };

    private CodeDetails ToDetails(CodeRecord code) => new(
        code.Code, code.TargetUrl, code.Title, code.Status, code.CreatedAt, code.UpdatedAt,
        _totalScans, _lastScanAt, code.OwnerId, code.Tags, code.ExpiresAt, code.MaxScans,
        code.GoneAt(clock.GetUtcNow(), _totalScans), code.ThrottleBurst, code.ThrottlePerMinute, code.Routing?.Rules.ToJson());
}
