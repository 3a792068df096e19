using InvexQr.Abstractions;

namespace InvexQr.Grains.Codes;

/// <summary>The code registry (<c>qr_codes</c>). Implemented with Npgsql in the silo.</summary>
public interface ICodeRepository
{
    /// <summary>The codes that exist among <paramref name="codes"/>, with their lifetime totals, in one round trip.</summary>
    Task<IReadOnlyDictionary<string, StoredCode>> LoadAsync(IReadOnlyCollection<string> codes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts the code; null when the code is taken in any case, or is a deleted code of another owner (slugs stay
    /// reserved to their owner). Throws <see cref="OwnerErasingException"/> while the owner is being erased.
    /// </summary>
    Task<CodeRecord?> InsertAsync(string code, CreateCodeCommand command, CancellationToken cancellationToken = default);

    /// <summary>Applies the non-null fields; null when the code does not exist.</summary>
    Task<CodeRecord?> UpdateAsync(string code, UpdateCodeCommand command, CancellationToken cancellationToken = default);

    /// <summary>Deletes the code and all its raw scans, keeping its slug reserved to its owner; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string code, CancellationToken cancellationToken = default);

    /// <summary>One page of the owner's codes, newest first.</summary>
    Task<CodePage> ListAsync(long ownerId, CodeListQuery query, CancellationToken cancellationToken = default);
}
