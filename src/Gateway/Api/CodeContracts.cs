using InvexQr.Grains.Abstractions;

namespace InvexQr.Gateway.Api;

/// <summary>Body of <c>POST /api/codes</c>.</summary>
public sealed record CreateCodeRequest(string? TargetUrl, string? Code, string? Title);

/// <summary>Body of <c>PATCH /api/codes/{code}</c>; absent fields stay unchanged.</summary>
public sealed record UpdateCodeRequest(string? TargetUrl, string? Title, bool? Enabled);

/// <summary>A code as the API returns it.</summary>
public sealed record CodeResponse(
    string Code,
    string ShortUrl,
    string TargetUrl,
    string? Title,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    long TotalScans,
    DateTimeOffset? LastScanAt)
{
    public static CodeResponse From(CodeDetails details, string shortUrl) => new(
        details.Code,
        shortUrl,
        details.TargetUrl,
        details.Title,
        details.Status == CodeStatus.Active ? "active" : "disabled",
        details.CreatedAt,
        details.UpdatedAt,
        details.TotalScans,
        details.LastScanAt);
}
