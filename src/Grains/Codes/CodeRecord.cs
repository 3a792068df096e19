using InvexQr.Grains.Abstractions;

namespace InvexQr.Grains.Codes;

/// <summary>A row of <c>qr_codes</c>: what a code grain loads once on activation.</summary>
public sealed record CodeRecord(
    long Id,
    string Code,
    string TargetUrl,
    string? Title,
    CodeStatus Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    long? OwnerId);
