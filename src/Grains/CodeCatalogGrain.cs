using InvexQr.Abstractions;
using InvexQr.Grains.Codes;
using Orleans.Concurrency;

namespace InvexQr.Grains;

/// <summary>Owner-wide listings straight from <c>qr_codes</c>; any silo can serve them.</summary>
[StatelessWorker]
public sealed class CodeCatalogGrain(ICodeRepository codes) : Grain, ICodeCatalogGrain
{
    public Task<CodePage> List(long ownerId, CodeListQuery query) => codes.ListAsync(ownerId, query);
}
