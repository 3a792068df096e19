using InvexQr.Abstractions;
using InvexQr.Grains.Caching;
using InvexQr.Grains.Codes;
using Orleans.Concurrency;

namespace InvexQr.Grains;

/// <summary>
/// Existence checks for codes, one worker per silo, with a short-lived cache of "unknown" answers
/// so a flood of the same unknown code reads the database once per <see cref="NegativeTtl"/>.
/// Known codes are not cached here: the gateway remembers them, and the code grain stays the
/// authority (a deleted code answers 404 from its grain).
/// </summary>
[StatelessWorker(1)]
public sealed class CodeDirectoryGrain(ICodeRepository codes, TimeProvider clock) : Grain, ICodeDirectoryGrain
{
    internal static readonly TimeSpan NegativeTtl = TimeSpan.FromSeconds(5);
    private const int NegativeCapacity = 100_000;

    private readonly ExpiringSet _unknown = new(NegativeCapacity, NegativeTtl, clock);

    public async ValueTask<bool> Exists(string code)
    {
        if (!CodeFormat.IsWellFormed(code) || _unknown.Contains(code))
        {
            return false;
        }

        var exists = await codes.ExistsAsync(code);
        if (!exists)
        {
            _unknown.Add(code);
        }

        return exists;
    }
}
