namespace InvexQr.Abstractions;

/// <summary>Life-cycle status of a code as the owner set it.</summary>
[GenerateSerializer]
public enum CodeStatus
{
    Active = 0,
    Disabled = 1,
}

/// <summary>Create a code. The code itself is the grain key.</summary>
/// <param name="MaxScans">After this many recorded scans the code answers 410; null = unlimited.</param>
[GenerateSerializer, Immutable]
public sealed record CreateCodeCommand(
    [property: Id(0)] string TargetUrl,
    [property: Id(1)] string? Title,
    [property: Id(2)] long? OwnerId,
    [property: Id(3)] IReadOnlyList<string>? Tags = null,
    [property: Id(4)] DateTimeOffset? ExpiresAt = null,
    [property: Id(5)] long? MaxScans = null,
    [property: Id(6)] int? ThrottleBurst = null,
    [property: Id(7)] int? ThrottlePerMinute = null,
    [property: Id(8)] string? RoutingJson = null);

/// <summary>
/// A partial update: null fields stay as they are. Expiry and scan budget can also be removed, which
/// a null cannot say, hence <see cref="ClearExpiry"/> and <see cref="ClearMaxScans"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record UpdateCodeCommand(
    [property: Id(0)] string? TargetUrl,
    [property: Id(1)] string? Title,
    [property: Id(2)] bool? Enabled,
    [property: Id(3)] IReadOnlyList<string>? Tags = null,
    [property: Id(4)] DateTimeOffset? ExpiresAt = null,
    [property: Id(5)] bool ClearExpiry = false,
    [property: Id(6)] long? MaxScans = null,
    [property: Id(7)] bool ClearMaxScans = false,
    [property: Id(8)] int? ThrottleBurst = null,
    [property: Id(9)] int? ThrottlePerMinute = null,
    [property: Id(10)] string? RoutingJson = null,
    [property: Id(11)] bool ClearRouting = false);

/// <summary>A code as the API shows it.</summary>
[GenerateSerializer, Immutable]
public sealed record CodeDetails(
    [property: Id(0)] string Code,
    [property: Id(1)] string TargetUrl,
    [property: Id(2)] string? Title,
    [property: Id(3)] CodeStatus Status,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] DateTimeOffset UpdatedAt,
    [property: Id(6)] long TotalScans,
    [property: Id(7)] DateTimeOffset? LastScanAt,
    [property: Id(8)] long? OwnerId,
    [property: Id(9)] IReadOnlyList<string> Tags,
    [property: Id(10)] DateTimeOffset? ExpiresAt,
    [property: Id(11)] long? MaxScans,
    [property: Id(12)] GoneReason? Gone,
    [property: Id(13)] int? ThrottleBurst = null,
    [property: Id(14)] int? ThrottlePerMinute = null,
    [property: Id(15)] string? RoutingJson = null);
