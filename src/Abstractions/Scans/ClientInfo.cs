namespace InvexQr.Abstractions;

/// <summary>What the user agent says about the scanning device.</summary>
/// <param name="DeviceType"><c>mobile</c>, <c>tablet</c>, <c>desktop</c>, <c>bot</c> or <c>other</c>.</param>
[GenerateSerializer, Immutable]
public sealed record ClientInfo(
    [property: Id(0)] string? Browser,
    [property: Id(1)] string? Os,
    [property: Id(2)] string DeviceType,
    [property: Id(3)] bool IsBot)
{
    public static readonly ClientInfo Unknown = new(null, null, "other", false);
}
