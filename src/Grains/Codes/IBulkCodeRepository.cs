using InvexQr.Abstractions;

namespace InvexQr.Grains.Codes;

/// <summary>Statements on many rows of <c>qr_codes</c> at once (<see cref="ICodeBulkGrain"/>). Implemented with Npgsql in the silo.</summary>
public interface IBulkCodeRepository
{
    /// <summary>
    /// Inserts the codes of one owner in one transaction. A code taken (in any case) or reserved to another owner is
    /// offered to <paramref name="replace"/>, which names another code to try (random codes) or null (refused); atomic, any
    /// refusal rolls everything back. Throws <see cref="OwnerErasingException"/> while the owner is being erased.
    /// </summary>
    Task<BulkInsertOutcome> InsertManyAsync(
        long ownerId, IReadOnlyList<BulkNewCode> codes, bool atomic, Func<BulkNewCode, string?> replace, CancellationToken cancellationToken = default);

    /// <summary>Applies the edit to the owner's codes the filter selects, in one statement; what changed.</summary>
    Task<BulkUpdateOutcome> UpdateManyAsync(long ownerId, BulkEditCommand edit, int maxTags, CancellationToken cancellationToken = default);

    /// <summary>The owner's codes the filter selects, oldest first, at most <paramref name="limit"/>.</summary>
    Task<BulkSelection> FindAsync(long ownerId, BulkFilter filter, int limit, CancellationToken cancellationToken = default);
}

/// <param name="Inserted">Row → the code inserted for it.</param>
/// <param name="Refused">Rows refused (taken or reserved).</param>
public sealed record BulkInsertOutcome(IReadOnlyList<BulkCreated> Inserted, IReadOnlyList<int> Refused, bool Committed);

/// <param name="Changed">The codes whose row changed, as stored.</param>
public sealed record BulkUpdateOutcome(int Matched, IReadOnlyList<string> Changed, IReadOnlyList<string> TooManyTags, IReadOnlyList<string> NotFound);
