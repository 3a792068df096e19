namespace InvexQr.Abstractions;

/// <summary>Where a scan came from, as far as the IP tells. All null when unknown.</summary>
[GenerateSerializer, Immutable]
public sealed record GeoLocation(
    [property: Id(0)] string? CountryCode,
    [property: Id(1)] string? CountryName,
    [property: Id(2)] string? Subdivision,
    [property: Id(3)] string? City,
    [property: Id(4)] double? Latitude,
    [property: Id(5)] double? Longitude)
{
    public static readonly GeoLocation Unknown = new(null, null, null, null, null, null);
}
