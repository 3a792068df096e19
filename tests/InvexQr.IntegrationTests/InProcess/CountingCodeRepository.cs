using InvexQr.Abstractions;
using InvexQr.Grains.Codes;

namespace InvexQr.IntegrationTests.InProcess;

/// <summary>
/// The real repository with a counter of reads in front: a probe for "how many times did we go to the
/// database", not a stand-in for it.
/// </summary>
public sealed class CountingCodeRepository(ICodeRepository inner, CountingCodeRepository.Counter reads) : ICodeRepository
{
    public sealed class Counter
    {
        private int _value;

        public int Value => Volatile.Read(ref _value);

        public void Increment() => Interlocked.Increment(ref _value);
    }

    public Task<IReadOnlyDictionary<string, StoredCode>> LoadAsync(IReadOnlyCollection<string> codes, CancellationToken cancellationToken = default)
    {
        reads.Increment();
        return inner.LoadAsync(codes, cancellationToken);
    }

    public Task<CodeRecord?> InsertAsync(string code, CreateCodeCommand command, CancellationToken cancellationToken = default) =>
        inner.InsertAsync(code, command, cancellationToken);

    public Task<bool> DeleteAsync(string code, CancellationToken cancellationToken = default) => inner.DeleteAsync(code, cancellationToken);

    public Task<CodePage> ListAsync(long ownerId, CodeListQuery query, CancellationToken cancellationToken = default) =>
        inner.ListAsync(ownerId, query, cancellationToken);

    public Task<CodeRecord?> UpdateAsync(string code, UpdateCodeCommand command, CancellationToken cancellationToken = default) =>
        inner.UpdateAsync(code, command, cancellationToken);
}
