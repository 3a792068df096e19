using System.Globalization;
using InvexQr.Grains.Protection;
using InvexQr.Data;
using Microsoft.Extensions.Options;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// Operator commands run with the silo's binary and configuration, then exit:
/// <code>
///   InvexQr.Silo migrate
///   InvexQr.Silo rollups rebuild   [--code C] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
///   InvexQr.Silo rollups reconcile [--code C] [--from YYYY-MM-DD] [--to YYYY-MM-DD]
///   InvexQr.Silo retention [--days N]
/// </code>
/// Rollup commands cover whole UTC days [from, to); default: everything up to the start of today.
/// Exit codes: 0 done / no difference, 2 bad arguments, 3 reconcile found differences.
/// </summary>
public static class SiloCommands
{
    public static bool IsCommand(string[] args) => args.Length > 0 && args[0] is "migrate" or "rollups" or "retention";

    public static async Task<int> RunAsync(string[] args, IServiceProvider services, TextWriter? output = null)
    {
        output ??= Console.Out;
        try
        {
            return args[0] switch
            {
                "migrate" => 0, // migrations already ran before any command
                "rollups" => await RollupsAsync(args, services, output),
                _ => await RetentionAsync(args, services, output),
            };
        }
        catch (ArgumentException ex)
        {
            (output == Console.Out ? Console.Error : output).WriteLine($"InvexQr.Silo {args[0]}: {ex.Message}");
            return 2;
        }
    }

    private static async Task<int> RollupsAsync(string[] args, IServiceProvider services, TextWriter output)
    {
        var verb = args.Length > 1 ? args[1] : string.Empty;
        if (verb is not ("rebuild" or "reconcile"))
        {
            throw new ArgumentException("expected `rollups rebuild` or `rollups reconcile` [--code C] [--from YYYY-MM-DD] [--to YYYY-MM-DD]");
        }

        var rebuild = services.GetRequiredService<RollupRebuild>();
        long? codeId = null;
        if (Option(args, "--code") is { } code)
        {
            codeId = await rebuild.CodeIdAsync(code, CancellationToken.None) ?? throw new ArgumentException($"no code '{code}'");
        }

        var from = Option(args, "--from") is { } f ? Date(f, "--from") : new DateOnly(2000, 1, 1);
        var to = Option(args, "--to") is { } t ? Date(t, "--to") : DateOnly.FromDateTime(DateTime.UtcNow);
        if (from >= to)
        {
            throw new ArgumentException("--from must be before --to");
        }

        if (await rebuild.FirstCompleteDayAsync(from, CancellationToken.None) is var complete && complete > from)
        {
            // Retention dropped the raw scans before it: the rollups of those days are all that is left of them.
            output.WriteLine($"rollups {verb}: raw scans before {complete:yyyy-MM-dd} were dropped by retention; the rollups of those days are kept as they are");
            if (complete >= to)
            {
                output.WriteLine($"rollups {verb}: nothing to do from {from:yyyy-MM-dd} to {to:yyyy-MM-dd}");
                return 0;
            }

            from = complete;
        }

        if (verb == "rebuild")
        {
            var (hours, sketches) = await rebuild.RebuildAsync(codeId, from, to, CancellationToken.None);
            output.WriteLine($"rollups rebuilt from raw scans: {hours} code-hours, {sketches} unique-visitor sketches (code-days), {from:yyyy-MM-dd} to {to:yyyy-MM-dd}");
            return 0;
        }

        var differences = await rebuild.ReconcileAsync(codeId, from, to, 50, CancellationToken.None);
        foreach (var difference in differences)
        {
            output.WriteLine(difference);
        }

        output.WriteLine(differences.Count == 0
            ? $"rollups reconcile: rollups equal raw scans ({from:yyyy-MM-dd} to {to:yyyy-MM-dd})"
            : $"rollups reconcile: {differences.Count}{(differences.Count == 50 ? "+" : string.Empty)} differences; `rollups rebuild` with the same scope repairs them");
        return differences.Count == 0 ? 0 : 3;
    }

    private static async Task<int> RetentionAsync(string[] args, IServiceProvider services, TextWriter output)
    {
        var days = services.GetRequiredService<IOptions<PrivacyOptions>>().Value.RetentionDays;
        if (Option(args, "--days") is { } text && (!int.TryParse(text, CultureInfo.InvariantCulture, out days) || days < 1))
        {
            throw new ArgumentException("--days must be a whole number of days, at least 1");
        }

        if (days <= 0)
        {
            throw new ArgumentException("no retention configured (Privacy:RetentionDays) and no --days given");
        }

        var (dropped, busy) = await services.GetRequiredService<ScanRetention>().ApplyAsync(days, DateTimeOffset.UtcNow, CancellationToken.None);
        output.WriteLine($"retention {days} days: dropped {dropped.Count} partitions{(dropped.Count > 0 ? ": " + string.Join(", ", dropped) : string.Empty)}");
        if (busy.Count > 0)
        {
            output.WriteLine($"retention: not dropped, qr_scans was in use for more than {ScanRetention.LockTimeout.TotalSeconds} s (a long export or rebuild?): {string.Join(", ", busy)}; run it again later");
            return 4;
        }

        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        if (index < 0)
        {
            return null;
        }

        return index + 1 < args.Length ? args[index + 1] : throw new ArgumentException($"{name} needs a value");
    }

    private static DateOnly Date(string text, string name) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date
            : throw new ArgumentException($"{name} must be a date like 2026-11-01");
}
