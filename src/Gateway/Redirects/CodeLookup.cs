using InvexQr.Grains.Abstractions;
using InvexQr.Grains.Caching;

namespace InvexQr.Gateway.Redirects;

/// <summary>
/// The gateway's memory of which codes exist, so that a scan of a known code is one grain call and
/// an unknown code never activates a code grain. Known codes are remembered for a minute (the
/// code grain stays the authority: a deleted code still answers 404 from it); unknown codes for a
/// few seconds, so a code created meanwhile starts working almost at once.
/// </summary>
public sealed class CodeLookup(IClusterClient cluster, TimeProvider clock)
{
    private readonly ExpiringSet _known = new(200_000, TimeSpan.FromMinutes(1), clock);
    private readonly ExpiringSet _unknown = new(100_000, TimeSpan.FromSeconds(5), clock);

    public async ValueTask<bool> ExistsAsync(string code)
    {
        if (_known.Contains(code))
        {
            return true;
        }

        if (_unknown.Contains(code))
        {
            return false;
        }

        var exists = await cluster.GetGrain<ICodeDirectoryGrain>(0).Exists(code);
        (exists ? _known : _unknown).Add(code);
        return exists;
    }

    /// <summary>True when this gateway knows the code exists without asking anyone.</summary>
    public bool IsKnown(string code) => _known.Contains(code);

    /// <summary>A code this gateway just created.</summary>
    public void MarkKnown(string code)
    {
        _unknown.Remove(code);
        _known.Add(code);
    }
}
