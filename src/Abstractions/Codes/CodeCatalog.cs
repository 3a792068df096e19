namespace InvexQr.Abstractions;

/// <summary>Listing an owner's codes: newest first, keyset-paginated.</summary>
public interface ICodeCatalogGrain : IGrainWithIntegerKey
{
    Task<CodePage> List(long ownerId, CodeListQuery query);
}

/// <param name="After">The page's continuation: the (createdAt, id) of the last code of the previous page.</param>
/// <param name="Search">Case-insensitive text found in the code, title or target URL.</param>
/// <param name="Tag">Only codes carrying this tag.</param>
/// <param name="OldestFirst">Sort by creation time ascending instead of newest first.</param>
[GenerateSerializer, Immutable]
public sealed record CodeListQuery(
    [property: Id(0)] int Limit,
    [property: Id(1)] DateTimeOffset? AfterCreatedAt,
    [property: Id(2)] long? AfterId,
    [property: Id(3)] string? Search,
    [property: Id(4)] string? Tag = null,
    [property: Id(5)] bool OldestFirst = false);

[GenerateSerializer, Immutable]
public sealed record CodeSummary(
    [property: Id(0)] long Id,
    [property: Id(1)] string Code,
    [property: Id(2)] string TargetUrl,
    [property: Id(3)] string? Title,
    [property: Id(4)] CodeStatus Status,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset UpdatedAt,
    [property: Id(7)] IReadOnlyList<string> Tags,
    [property: Id(8)] DateTimeOffset? ExpiresAt,
    [property: Id(9)] long? MaxScans);

[GenerateSerializer, Immutable]
public sealed record CodePage([property: Id(0)] IReadOnlyList<CodeSummary> Items, [property: Id(1)] bool HasMore);
