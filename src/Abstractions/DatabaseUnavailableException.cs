using System.Data.Common;

namespace InvexQr.Abstractions;

/// <summary>
/// The database could not be reached (or refused work for lack of resources) while a grain needed
/// it. It crosses the wire to the gateway, which answers 503 with Retry-After — driver exceptions
/// themselves cannot be serialized by Orleans, and would carry more detail than a caller should see.
/// </summary>
[GenerateSerializer]
public sealed class DatabaseUnavailableException : Exception
{
    public DatabaseUnavailableException()
        : base("The database is unavailable; retry shortly.")
    {
    }

    public DatabaseUnavailableException(string message)
        : base(message)
    {
    }

    public DatabaseUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// A driver exception that means "the database is not there right now": a connection failure or
    /// timeout (the driver marks those transient), or a PostgreSQL state of class 08 (connection),
    /// 53 (insufficient resources), 57P (operator intervention: shutdown, crash recovery), 28 (the server refuses
    /// our credentials: another server on its address, a rotated password) or 3D000 (no such database).
    /// </summary>
    public static bool IsUnavailable(Exception exception) => exception switch
    {
        DbException db => db.IsTransient
            || db.SqlState is { } state && (state.StartsWith("08", StringComparison.Ordinal) || state.StartsWith("53", StringComparison.Ordinal)
                || state.StartsWith("57P", StringComparison.Ordinal) || state.StartsWith("28", StringComparison.Ordinal) || state == "3D000"),
        TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsUnavailable),
        _ => exception.InnerException is { } inner && IsUnavailable(inner),
    };
}
