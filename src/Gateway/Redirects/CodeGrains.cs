using System.Collections.Concurrent;
using InvexQr.Grains.Abstractions;

namespace InvexQr.Gateway.Redirects;

/// <summary>
/// Grain references by code, made once. <c>GetGrain</c> resolves the grain interface type by reflection
/// on every call (the gateway's profile: about a tenth of the scan endpoint's time); a reference is an
/// immutable handle, so it is kept. Bounded: only codes that passed the existence check get here, and
/// past <see cref="Capacity"/> references the map starts over.
/// </summary>
public sealed class CodeGrains(IGrainFactory grains)
{
    public const int Capacity = 200_000;

    private readonly ConcurrentDictionary<string, IQrCodeGrain> _byCode = new(StringComparer.Ordinal);

    public IQrCodeGrain For(string code)
    {
        if (_byCode.TryGetValue(code, out var grain))
        {
            return grain;
        }

        if (_byCode.Count >= Capacity)
        {
            _byCode.Clear();
        }

        return _byCode.GetOrAdd(code, static (c, factory) => factory.GetGrain<IQrCodeGrain>(c), grains);
    }
}
