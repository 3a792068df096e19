// Which types a process allocated most, from a dotnet-trace file with the runtime's GC events at verbose level
// (provider Microsoft-Windows-DotNETRuntime, keyword 0x1, level 5). The runtime raises an AllocationTick event
// each time about 100 KB more has been allocated, naming the type of the object that crossed the mark: summed by
// type, these samples give each type's share of the bytes allocated.
//
//   dotnet run -c Release --project bench/InvexQr.AllocationTypes -- TRACE.nettrace [TOP] [SCANS]
//
// With SCANS (the requests served while tracing), it also prints the sampled bytes per scan.
//
// The same events also describe every collection: it prints, per generation, how many there were, their pauses
// (threads suspended until restarted) and what each promoted, and the longest pauses one by one, to tell which
// collections make the latency tail.
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Analysis;
using Microsoft.Diagnostics.Tracing.Analysis.GC;

if (args.Length is < 1 or > 3 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("usage: InvexQr.AllocationTypes TRACE.nettrace [TOP (default 25)] [SCANS]");
    return 2;
}

var top = args.Length > 1 && int.TryParse(args[1], out var t) && t > 0 ? t : 25;
long? scans = args.Length > 2 && long.TryParse(args[2], out var s) && s > 0 ? s : null;
var bytesByType = new Dictionary<string, long>();
long total = 0, ticks = 0;
var collections = new List<TraceGC>();
using (var source = new EventPipeEventSource(args[0]))
{
    source.NeedLoadedDotNetRuntimes();
    source.AddCallbackOnProcessStart(process => process.AddCallbackOnDotNetRuntimeLoad(
        runtime => runtime.GCEnd += (_, gc) => collections.Add(gc)));
    source.Clr.GCAllocationTick += e =>
    {
        ticks++;
        total += e.AllocationAmount64;
        var type = string.IsNullOrEmpty(e.TypeName) ? "(unnamed)" : e.TypeName;
        bytesByType[type] = bytesByType.GetValueOrDefault(type) + e.AllocationAmount64;
    };
    source.Process();
}

if (ticks == 0)
{
    Console.Error.WriteLine($"{args[0]}: no allocation samples (was the trace taken with Microsoft-Windows-DotNETRuntime:0x1:5?)");
    return 1;
}

Console.WriteLine($"  {total / 1048576.0:F0} MB allocated in {ticks} samples" +
    (scans is { } n ? $", {total / (double)n:F0} bytes per scan over {n} scans" : ""));
foreach (var (type, bytes) in bytesByType.OrderByDescending(x => x.Value).Take(top))
{
    Console.WriteLine($"  {100.0 * bytes / total,5:F1} %  {type}");
}

if (collections.Count > 0)
{
    Console.WriteLine($"  collections while tracing: {collections.Count}, {collections.Sum(gc => gc.PauseDurationMSec):F0} ms paused in all");
    foreach (var group in collections.GroupBy(gc => (gc.Generation, gc.Type)).OrderBy(g => g.Key.Generation))
    {
        var pauses = group.Select(gc => gc.PauseDurationMSec).Order().ToList();
        Console.WriteLine($"    gen{group.Key.Generation} {group.Key.Type}: {pauses.Count}, pause median {pauses[pauses.Count / 2]:F1} ms, " +
            $"max {pauses[^1]:F1} ms, promoted {group.Average(gc => gc.PromotedMB):F1} MB on average");
    }

    Console.WriteLine("    longest pauses: " + string.Join("; ", collections.OrderByDescending(gc => gc.PauseDurationMSec).Take(8).Select(gc =>
        $"gen{gc.Generation} {gc.Type} {gc.Reason} {gc.PauseDurationMSec:F1} ms (suspending {gc.SuspendDurationMSec:F1} ms), " +
        $"promoted {gc.PromotedMB:F1} MB, heap {gc.HeapSizeBeforeMB:F0} → {gc.HeapSizeAfterMB:F0} MB")));
}

return 0;
