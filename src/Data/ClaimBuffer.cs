using System.Buffers;
using System.Buffers.Binary;
using Npgsql;

namespace InvexQr.Data;

/// <summary>
/// The events' data a webhook claim read, as the UTF-8 the scan writer wrote, in one buffer from the shared pool until the
/// claim is disposed. A batch of 500 scans is ~170 KB: read as strings it was 500 allocations and two transcodings per
/// event on their way into a request body that is UTF-8 again. (Joining the elements in SQL with array_to_string
/// instead cost PostgreSQL ~1 ms per row of 500, ten times what sending the array costs.)
/// </summary>
public sealed class ClaimBuffer : IDisposable
{
    private byte[] _bytes = ArrayPool<byte>.Shared.Rent(256 * 1024);
    private int _used;

    /// <summary>
    /// Reads bytea column <paramref name="ordinal"/> of the current row, a one-dimensional <c>text[]</c> of
    /// <paramref name="count"/> elements in PostgreSQL's binary array format (<c>array_send(…)</c>: what the server
    /// sends for an array anyway, with no per-element conversion in SQL), into the buffer; each element's UTF-8 bytes,
    /// empty for a null element (and all of them for a null column).
    /// </summary>
    public async Task<ReadOnlyMemory<byte>[]> ReadTextArrayAsync(NpgsqlDataReader reader, int ordinal, int count, CancellationToken cancellationToken)
    {
        var elements = new ReadOnlyMemory<byte>[count];
        if (await reader.IsDBNullAsync(ordinal, cancellationToken))
        {
            return elements;
        }

        var start = _used;
        await using (var stream = await reader.GetStreamAsync(ordinal, cancellationToken))
        {
            int read;
            do
            {
                if (_bytes.Length - _used < 16 * 1024)
                {
                    // The elements read so far point into the old array: it is left to the collector, not returned to the pool.
                    var bigger = ArrayPool<byte>.Shared.Rent(_bytes.Length * 2);
                    _bytes.AsSpan(0, _used).CopyTo(bigger);
                    _bytes = bigger;
                }

                read = await stream.ReadAsync(_bytes.AsMemory(_used), cancellationToken);
                _used += read;
            }
            while (read > 0);
        }

        // ndim, has-nulls flag, element type; then per dimension its length and lower bound; then per element its length
        // (-1: null) and bytes. An empty array has no dimension.
        ReadOnlyMemory<byte> rest = _bytes.AsMemory(start, _used - start);
        var dimensions = Int32(ref rest);
        rest = rest[8..];
        var length = dimensions == 0 ? 0 : Int32(ref rest);
        if (dimensions > 1 || length != count)
        {
            throw new InvalidDataException($"Expected a one-dimensional array of {count} elements, found {dimensions} dimensions of {length}.");
        }

        if (dimensions == 1)
        {
            rest = rest[4..];
        }

        for (var k = 0; k < count; k++)
        {
            var size = Int32(ref rest);
            if (size > 0)
            {
                elements[k] = rest[..size];
                rest = rest[size..];
            }
        }

        return elements;
    }

    private static int Int32(ref ReadOnlyMemory<byte> rest)
    {
        var value = BinaryPrimitives.ReadInt32BigEndian(rest.Span);
        rest = rest[4..];
        return value;
    }

    public void Dispose()
    {
        if (_bytes.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_bytes);
            _bytes = [];
        }
    }
}
