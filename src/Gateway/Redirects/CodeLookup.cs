using InvexQr.Abstractions;
using InvexQr.Grains.Caching;

namespace InvexQr.Gateway.Redirects;

/// <summary>
/// The gateway's memory of which codes exist, so that a scan of a known code is one grain call and
/// an unknown code never activates a code grain (the silo's directory batches the lookups). Known codes
/// are remembered for a minute (the code grain stays the authority: a deleted code answers 404 from it
/// and is then forgotten here); unknown codes for a few seconds, so a code created meanwhile starts
/// working almost at once.
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

        bool exists;
        try
        {
            exists = await cluster.GetGrain<ICodeDirectoryGrain>(0).Exists(code);
        }
        catch (DatabaseUnavailableException)
        {
            // Nobody can tell without the database: let the code's grain answer. If it is active it redirects from
            // memory (an outage must not stop codes this gateway has not seen yet, or forgot); if not, its
            // activation fails the same way and the scan gets a 503.
            return true;
        }

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

    /// <summary>A code whose grain answered that it does not exist (deleted).</summary>
    public void MarkMissing(string code)
    {
        _known.Remove(code);
        _unknown.Add(code);
    }
}
