namespace InvexQr.Abstractions;

/// <summary>
/// Work on many of one owner's codes at once: a CSV import, an edit by filter, a selection for a ZIP of QR images.
/// Stateless, any silo serves it; each call is one statement on <c>qr_codes</c> (one transaction for an import), and
/// the codes' own grains learn about an edit before the call returns, as they do for a single edit.
/// </summary>
public interface ICodeBulkGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Inserts the codes in one transaction. Atomic: when any slug is taken (or reserved to another owner), nothing is
    /// inserted. Throws <see cref="OwnerErasingException"/> while the owner is being erased.
    /// </summary>
    [ResponseTimeout("00:02:00")]
    Task<BulkCreateResult> Create(long ownerId, BulkCreateCommand command);

    /// <summary>Applies one change to every code of the owner that the filter selects; the codes' grains reload before it returns.</summary>
    [ResponseTimeout("00:02:00")]
    Task<BulkEditResult> Edit(long ownerId, BulkEditCommand command);

    /// <summary>The owner's codes the filter selects, oldest first, at most <paramref name="limit"/>.</summary>
    [ResponseTimeout("00:00:30")]
    Task<BulkSelection> Find(long ownerId, BulkFilter filter, int limit);
}

/// <param name="Row">The caller's number for the row, returned with its outcome.</param>
/// <param name="RandomCode">The code was drawn at random: when taken, another is drawn of the same length.</param>
[GenerateSerializer, Immutable]
public sealed record BulkNewCode(
    [property: Id(0)] int Row, [property: Id(1)] string Code, [property: Id(2)] bool RandomCode, [property: Id(3)] CreateCodeCommand Command);

[GenerateSerializer, Immutable]
public sealed record BulkCreateCommand([property: Id(0)] IReadOnlyList<BulkNewCode> Codes, [property: Id(1)] bool Atomic);

[GenerateSerializer, Immutable]
public sealed record BulkCreated([property: Id(0)] int Row, [property: Id(1)] string Code);

/// <param name="TakenRows">Rows whose slug was taken, or reserved to another owner.</param>
/// <param name="Committed">False when an atomic import inserted nothing.</param>
[GenerateSerializer, Immutable]
public sealed record BulkCreateResult(
    [property: Id(0)] IReadOnlyList<BulkCreated> Created, [property: Id(1)] IReadOnlyList<int> TakenRows, [property: Id(2)] bool Committed);

/// <summary>Which codes: those carrying <see cref="Tag"/>, or those listed (case does not matter); exactly one of them.</summary>
[GenerateSerializer, Immutable]
public sealed record BulkFilter([property: Id(0)] string? Tag, [property: Id(1)] IReadOnlyList<string>? Codes);

/// <summary>
/// One change for every selected code. Tags are either set (replaced) or added and removed (compared ignoring case);
/// null fields stay as they are.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record BulkEditCommand(
    [property: Id(0)] BulkFilter Filter,
    [property: Id(1)] IReadOnlyList<string>? SetTags = null,
    [property: Id(2)] IReadOnlyList<string>? AddTags = null,
    [property: Id(3)] IReadOnlyList<string>? RemoveTags = null,
    [property: Id(4)] string? TargetUrl = null,
    [property: Id(5)] bool? Enabled = null);

/// <param name="Matched">Codes the filter selected.</param>
/// <param name="Updated">Codes that changed (the others already were as asked).</param>
/// <param name="TooManyTags">Codes left unchanged because they would have carried more than the maximum of tags.</param>
/// <param name="NotFound">Listed codes that are not the owner's.</param>
[GenerateSerializer, Immutable]
public sealed record BulkEditResult(
    [property: Id(0)] int Matched,
    [property: Id(1)] int Updated,
    [property: Id(2)] IReadOnlyList<string> TooManyTags,
    [property: Id(3)] IReadOnlyList<string> NotFound);

/// <param name="Codes">The selected codes as stored (their case), oldest first.</param>
/// <param name="NotFound">Listed codes that are not the owner's.</param>
[GenerateSerializer, Immutable]
public sealed record BulkSelection([property: Id(0)] IReadOnlyList<string> Codes, [property: Id(1)] IReadOnlyList<string> NotFound);
