using InvexQr.Abstractions;
using InvexQr.Grains.Codes;
using Orleans.Concurrency;

namespace InvexQr.Grains;

/// <summary>
/// Existence checks for codes, so a flood of unknown codes turns into neither a flood of activations nor a flood of
/// database reads (the silo's <see cref="CodeLoader"/> batches the reads and remembers unknown codes for a few
/// seconds). One reentrant worker per silo: it only waits on the loader, so any number of checks are in flight at
/// once. Known codes are not remembered here: the gateway remembers them, and the code grain stays the authority
/// (a deleted code answers 404 from its grain).
/// </summary>
[StatelessWorker(1)]
[Reentrant]
public sealed class CodeDirectoryGrain(CodeLoader loader) : Grain, ICodeDirectoryGrain
{
    public ValueTask<bool> Exists(string code) =>
        CodeFormat.IsWellFormed(code) ? loader.ExistsAsync(code) : ValueTask.FromResult(false);
}
