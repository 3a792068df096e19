namespace InvexQr.Grains.Abstractions;

/// <summary>Life-cycle status of a code.</summary>
[GenerateSerializer]
public enum CodeStatus
{
    Active = 0,
    Disabled = 1,
}

/// <summary>Create a code. The code itself is the grain key.</summary>
[GenerateSerializer, Immutable]
public sealed record CreateCodeCommand(
    [property: Id(0)] string TargetUrl,
    [property: Id(1)] string? Title,
    [property: Id(2)] long? OwnerId);

/// <summary>A partial update: null fields stay as they are.</summary>
[GenerateSerializer, Immutable]
public sealed record UpdateCodeCommand(
    [property: Id(0)] string? TargetUrl,
    [property: Id(1)] string? Title,
    [property: Id(2)] bool? Enabled);

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
    [property: Id(8)] long? OwnerId);
