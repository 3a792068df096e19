using Orleans.Concurrency;

namespace InvexQr.Abstractions;

/// <summary>One dynamic QR code, keyed by its short code. The authority for the code's live state.</summary>
public interface IQrCodeGrain : IGrainWithStringKey
{
    /// <summary>A scan: decides redirect / not found / gone and records the scan when it redirects.</summary>
    [AlwaysInterleave]
    ValueTask<ScanResult> Scan(ScanRequest request);

    /// <summary>Answers like <see cref="Scan"/> but records nothing (HEAD requests).</summary>
    [AlwaysInterleave]
    ValueTask<ScanResult> Resolve();

    /// <summary>The code's registry entry plus its lifetime totals; null when the code does not exist.</summary>
    [AlwaysInterleave]
    ValueTask<CodeDetails?> Get();

    /// <summary>Registers this code. Returns null when the code is already taken.</summary>
    Task<CodeDetails?> Create(CreateCodeCommand command);

    /// <summary>
    /// Changes the code; the next scan anywhere in the cluster sees the change. Null when the code is
    /// unknown or not <paramref name="ownerId"/>'s (the grain is the authority on ownership too).
    /// </summary>
    Task<CodeDetails?> Update(long? ownerId, UpdateCodeCommand command);

    /// <summary>
    /// Reads the code's row again, after a bulk edit changed it in the database (<see cref="ICodeBulkGrain.Edit"/>): the
    /// next scan anywhere in the cluster sees the change. Does nothing for a code that is not <paramref name="ownerId"/>'s.
    /// </summary>
    Task Refresh(long? ownerId);

    /// <summary>Deletes the code and its raw scans; false when it does not exist or is not <paramref name="ownerId"/>'s.</summary>
    Task<bool> Delete(long? ownerId);
}
