namespace InvexQr.Abstractions;

/// <summary>What a live viewer watches: one owner's code, or all of the owner's codes (<see cref="Code"/> null).</summary>
[GenerateSerializer, Immutable]
public sealed record LiveTopic([property: Id(0)] long OwnerId, [property: Id(1)] string? Code);

/// <summary>One recent scan as the live view shows it: the code, when, and its stored (anonymised) location; no address.</summary>
[GenerateSerializer, Immutable]
public sealed record LiveScan(
    [property: Id(0)] string Code,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string? CountryCode,
    [property: Id(3)] string? City,
    [property: Id(4)] double? Latitude,
    [property: Id(5)] double? Longitude);

/// <summary>What one silo counted for a topic since its previous delta: the number of scans and the last few of them.</summary>
[GenerateSerializer, Immutable]
public sealed record LiveDelta([property: Id(0)] LiveTopic Topic, [property: Id(1)] int Scans, [property: Id(2)] LiveScan[] Recent);

/// <summary>The topics someone watches, cluster-wide, under a version that changes whenever the set does.</summary>
[GenerateSerializer, Immutable]
public sealed record LiveWatchSet([property: Id(0)] long Version, [property: Id(1)] LiveTopic[] Topics);

/// <summary>
/// The deltas after a gateway's cursor, for the topics it watches. <see cref="Gap"/>: some were dropped from the
/// hub's bounded buffer before the gateway asked (a viewer's totals may then be low).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record LiveBatch([property: Id(0)] long Cursor, [property: Id(1)] LiveDelta[] Deltas, [property: Id(2)] bool Gap);
