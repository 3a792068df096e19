using InvexQr.Abstractions;
using InvexQr.Grains.Codes;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace InvexQr.Grains;

/// <summary>
/// Bulk work on one owner's codes (<see cref="ICodeBulkGrain"/>): one statement through <see cref="IBulkCodeRepository"/>
/// instead of one grain call and one statement per code, then the same bookkeeping a single create or edit does.
/// </summary>
[StatelessWorker]
public sealed class CodeBulkGrain(IBulkCodeRepository bulk, CodeLoader loader, ILogger<CodeBulkGrain> logger) : Grain, ICodeBulkGrain
{
    /// <summary>The most tags a code carries (the API's limit, also for codes edited in bulk).</summary>
    public const int MaxTags = 20;

    // Reloads in flight at once after an edit: enough to overlap the batched reads, few enough not to flood the silo.
    private const int RefreshParallelism = 256;

    public async Task<BulkCreateResult> Create(long ownerId, BulkCreateCommand command)
    {
        if (command.Codes.Any(c => c.Command.OwnerId != ownerId))
        {
            throw new ArgumentException("Every code of a bulk create must be the caller's owner's.", nameof(command));
        }

        var used = new HashSet<string>(command.Codes.Select(c => c.Code), StringComparer.OrdinalIgnoreCase);
        string? Replace(BulkNewCode row)
        {
            for (var attempt = 0; attempt < 10; attempt++)
            {
                var candidate = CodeGenerator.NewCode(row.Code.Length);
                if (used.Add(candidate))
                {
                    return candidate;
                }
            }

            return null;
        }

        var outcome = await bulk.InsertManyAsync(ownerId, command.Codes, command.Atomic, Replace);
        // As after a single create: a code this silo remembered as unknown must be found at once.
        foreach (var created in outcome.Inserted)
        {
            loader.Forget(created.Code);
        }

        logger.LogInformation(
            "Bulk create for owner {Owner}: {Created} created, {Refused} taken, committed {Committed}",
            ownerId, outcome.Inserted.Count, outcome.Refused.Count, outcome.Committed);
        return new BulkCreateResult(outcome.Inserted, outcome.Refused, outcome.Committed);
    }

    public async Task<BulkEditResult> Edit(long ownerId, BulkEditCommand command)
    {
        var outcome = await bulk.UpdateManyAsync(ownerId, command, MaxTags);
        // Each changed code's grain reads its row again, as Update does for one: the next scan anywhere sees the edit.
        // A grain that was not active loads the row on activation and then again here, fresh either way.
        for (var start = 0; start < outcome.Changed.Count; start += RefreshParallelism)
        {
            var chunk = outcome.Changed.Skip(start).Take(RefreshParallelism);
            await Task.WhenAll(chunk.Select(code => GrainFactory.GetGrain<IQrCodeGrain>(code).Refresh(ownerId)));
        }

        logger.LogInformation(
            "Bulk edit for owner {Owner}: {Matched} matched, {Changed} changed", ownerId, outcome.Matched, outcome.Changed.Count);
        return new BulkEditResult(outcome.Matched, outcome.Changed.Count, outcome.TooManyTags, outcome.NotFound);
    }

    public Task<BulkSelection> Find(long ownerId, BulkFilter filter, int limit) => bulk.FindAsync(ownerId, filter, limit);
}
