// Enrichment costs, measured side by side in one run: cached and uncached geolocation and
// user-agent classification, and a whole cached enrichment. Prints nanoseconds per operation
// (median of several rounds) and each figure's ratio to the cached enrichment of the same run.
// Then the cost of a code's routing rules per scan (RoutingTable.Route, what the grain runs).
//
//   dotnet run -c Release --project bench/InvexQr.Benchmarks [-- --rounds 7] [--routing]   (--routing: only the rules)
using InvexQr.Abstractions;
using InvexQr.Grains.Routing;
using System.Diagnostics;
using System.Net;
using InvexQr.Enrichment;
using InvexQr.Enrichment.Geo;
using InvexQr.Enrichment.UserAgents;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

var rounds = Array.IndexOf(args, "--rounds") is var at and >= 0 ? int.Parse(args[at + 1]) : 7;
if (args.Contains("--routing"))
{
    MeasureRouting();
    return 0;
}

var root = FindRoot();
var geo = new GeoLocator(Options.Create(new GeoOptions
{
    DatabasePath = Path.Combine(root, ".data/geo/GeoLite2-City.mmdb"),
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

// The rules start interpreted and are compiled in the background once tried 64 times: measured both ways, the first
// on a parser of its own that stays under that count.
var fresh = new UserAgentParser(Path.Combine(root, ".data/npm/node_modules/uap-core/regexes.yaml"));
var interpretedNs = Measure(12, i => fresh.Parse(sampleUas[i & 3]), roundCount: 1);
var compileStarted = Stopwatch.GetTimestamp();
for (var i = 0; i < 4 * 64; i++)
{
    userAgents.ClassifyUncached(sampleUas[i & 3]);
}

while (UserAgentParser.PendingCompiles > 0)
{
    Thread.Sleep(10);
}

var compileMs = Stopwatch.GetElapsedTime(compileStarted).TotalMilliseconds;

var results = new List<(string Name, double Ns)>
{
    ("enrich, cached IP + cached UA", Measure(200_000, i => enricher.Enrich(hotIp, sampleUas[i & 3]))),
    ("geo, cached IP", Measure(500_000, _ => geo.Locate(hotIp))),
    ("geo, uncached IP (database read)", Measure(50_000, _ => geo.Locate(RandomPublicIp()))),
    ("UA, cached", Measure(500_000, i => userAgents.Classify(sampleUas[i & 3]))),
    ("UA, uncached, interpreted regexes", interpretedNs),
    ("UA, uncached, compiled regexes", Measure(300, i => userAgents.ClassifyUncached(sampleUas[i & 3]))),
};

Console.WriteLine($"# enrichment costs ({Environment.ProcessorCount} cores, .NET {Environment.Version}); UA rules loaded in {loadMs:F0} ms, " +
    $"the {userAgents.Cache!.Parser.CompiledRuleCount} rules the samples reach compiled in the background in {compileMs:F0} ms");
Console.WriteLine($"{"operation",-36} {"ns/op",12} {"x cached enrich",16}");
var baseline = results[0].Ns;
foreach (var (name, ns) in results)
{
    Console.WriteLine($"{name,-36} {ns,12:F0} {ns / baseline,16:F1}");
}

MeasureRouting();
return 0;

// A code with 5 rules of every kind (and one with 20), against scans that stop at each depth.
void MeasureRouting()
{
    const string five = """
        {"timeZone":"Europe/Paris","utm":{"source":"poster","medium":"qr"},
         "schedule":[{"at":"2020-01-01T00:00:00Z","target":"https://example.org/2020"},{"at":"2030-01-01T00:00:00Z","target":"https://example.org/2030"}],
         "rules":[
          {"id":"ios","when":{"os":["ios"],"device":["mobile","tablet"]},"target":"https://apps.apple.com/app/id1"},
          {"id":"android","when":{"os":["android"]},"target":"https://play.google.com/store/apps/details?id=x"},
          {"id":"fr","when":{"country":["FR","BE","CH"],"language":["fr"]},"target":"https://example.fr/"},
          {"id":"hours","when":{"time":{"days":["mon","tue","wed","thu","fri"],"from":"09:00","to":"18:00"}},"target":"https://example.org/open"},
          {"id":"ab","when":{"device":["desktop"]},"split":[{"target":"https://example.org/a","weight":50},{"target":"https://example.org/b","weight":30},{"target":"https://example.org/c","weight":20}]}
        ]}
        """;
    var twenty = "{\"timeZone\":\"Europe/Paris\",\"rules\":[" + string.Join(',', Enumerable.Range(0, 19).Select(i =>
        $$"""{"id":"c{{i}}","when":{"country":["Q{{(char)('A' + i)}}"],"language":["zz"]},"target":"https://example.org/{{i}}"}""")) +
        ",{\"id\":\"hours\",\"when\":{\"time\":{\"from\":\"09:00\",\"to\":\"18:00\"}},\"target\":\"https://example.org/open\"}]}";
    RoutingTable Compile(string json) =>
        RoutingTable.Compile(RoutingValidation.Check(RoutingRules.FromJson(json), [], DateTimeOffset.UtcNow, out _, [])!, "https://example.org/");
    var table5 = Compile(five);
    var table20 = Compile(twenty);
    var none = RoutingTable.Compile(new RoutingRules(), "https://example.org/");
    var evening = new DateTimeOffset(2026, 6, 10, 20, 0, 0, TimeSpan.Zero); // closed hours: a desktop reaches the split
    var iphone = new ScanContext("mobile", "iOS", "FR", "fr-FR,fr;q=0.9", null, 1);
    var desktopGb = new ScanContext("desktop", "Windows", "GB", "en-GB,en;q=0.9", null, 0);
    var desktopQuery = desktopGb with { Query = "?table=12&ref=menu" };
    var routing = new List<(string Name, (double Median, double Min) Ns)>
    {
        ("no rules (schedule lookup only)", MeasureBoth(200_000, i => none.Route(desktopGb, evening))),
        ("5 rules, first matches (iPhone)", MeasureBoth(200_000, i => table5.Route(iphone, evening))),
        ("5 rules, last matches (A/B split)", MeasureBoth(200_000, i => table5.Route(desktopGb with { VisitorKey = (ulong)i }, evening))),
        ("5 rules, pass-through query", MeasureBoth(100_000, i => table5.Route(desktopQuery with { VisitorKey = (ulong)i }, evening))),
        ("20 rules, none but the last matches", MeasureBoth(100_000, i => table20.Route(desktopGb, evening.AddHours(-8)))),
    };
    // On a busy machine the median carries other processes' time slices; the fastest round is the closer bound.
    Console.WriteLine($"# routing rules per scan, RoutingTable.Route ({Environment.ProcessorCount} cores, .NET {Environment.Version}, {rounds * 3} rounds)");
    Console.WriteLine($"{"case",-40} {"median ns",10} {"min ns",10}");
    foreach (var (name, (median, min)) in routing)
    {
        Console.WriteLine($"{name,-40} {median,10:F0} {min,10:F0}");
    }
}

(double Median, double Min) MeasureBoth(int iterations, Action<int> operation)
{
    for (var i = 0; i < 10_000; i++)
    {
        operation(i); // warm-up (and tiering)
    }

    var samples = new List<double>();
    for (var r = 0; r < rounds * 3; r++)
    {
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < iterations; i++)
        {
            operation(i);
        }

        samples.Add(Stopwatch.GetElapsedTime(started).TotalNanoseconds / iterations);
    }

    samples.Sort();
    return (samples[samples.Count / 2], samples[0]);
}

double Measure(int iterations, Action<int> operation, int? roundCount = null)
{
    for (var i = 0; i < Math.Min(iterations, 1000); i++)
    {
        operation(i); // warm-up
    }

    var samples = new List<double>();
    for (var r = 0; r < (roundCount ?? rounds); r++)
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
