using System.Data.Common;
using InvexQr.Abstractions;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// Turns database failures inside grain calls into exceptions the caller can read: an unreachable
/// database becomes <see cref="DatabaseUnavailableException"/> (the gateway answers 503), any other
/// driver error an <see cref="InvalidOperationException"/> without the driver's details (a bug: 500,
/// logged here in full). Driver exceptions cannot cross the wire as they are.
/// </summary>
public sealed class DatabaseErrorFilter(ILogger<DatabaseErrorFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception ex) when (ex is not DatabaseUnavailableException && DatabaseUnavailableException.IsUnavailable(ex))
        {
            logger.LogWarning("Database unavailable during {Grain}.{Method}: {Error}", context.InterfaceName, context.MethodName, ex.Message);
            throw new DatabaseUnavailableException();
        }
        catch (DbException ex)
        {
            logger.LogError(ex, "Database error during {Grain}.{Method}", context.InterfaceName, context.MethodName);
            throw new InvalidOperationException($"A database error occurred during {context.MethodName}.");
        }
    }
}
