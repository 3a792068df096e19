// Which types a process allocated most, from a dotnet-trace file with the runtime's GC events at verbose level
// (provider Microsoft-Windows-DotNETRuntime, keyword 0x1, level 5). The runtime raises an AllocationTick event
// each time about 100 KB more has been allocated, naming the type of the object that crossed the mark: summed by
// type, these samples give each type's share of the bytes allocated.
//
//   dotnet run -c Release --project bench/InvexQr.AllocationTypes -- TRACE.nettrace [TOP] [SCANS]
//
// With SCANS (the requests served while tracing), it also prints the sampled bytes per scan.
using Microsoft.Diagnostics.Tracing;

if (args.Length is < 1 or > 3 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("usage: InvexQr.AllocationTypes TRACE.nettrace [TOP (default 25)] [SCANS]");
    return 2;
}

var top = args.Length > 1 && int.TryParse(args[1], out var t) && t > 0 ? t : 25;
long? scans = args.Length > 2 && long.TryParse(args[2], out var s) && s > 0 ? s : null;
var bytesByType = new Dictionary<string, long>();
long total = 0, ticks = 0;
using (var source = new EventPipeEventSource(args[0]))
{
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

return 0;
