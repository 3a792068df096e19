using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace InvexQr.IntegrationTests.Http;

/// <summary>Bulk work over HTTP: CSV import with its per-row report, ZIPs of QR images, edits by filter.</summary>
[Collection(PostgresCollection.Name)]
public sealed class BulkTests(PostgresServer postgres, SharedGatewayHost shared, ITestOutputHelper output) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private const string Header = "target,slug,title,tags,routing";

    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Bad_rows_are_reported_by_row_and_field_and_an_atomic_import_creates_nothing()
    {
        using var http = await _deployment.CreateOwnerClientAsync("bulk-rows");
        var csv = string.Join("\n",
            Header,
            "https://example.org/a,rows-good-a,Good A,spring|poster,",                                         // 2
            "ftp://example.org/b,rows-bad-target,,,",                                                           // 3
            "https://example.org/c,has space,,,",                                                               // 4
            "https://example.org/d,rows-bad-tag,,bad/tag,",                                                     // 5
            "https://example.org/e,rows-bad-routing,,,\"{\"\"rules\"\":[{\"\"id\"\":\"\"x\"\",\"\"nope\"\":1}]}\"", // 6
            "https://example.org/f,rows-good-a,,,",                                                             // 7: same slug as row 2
            "https://example.org/g,rows-short",                                                                 // 8
            "https://example.org/h,,Random slug,,\"{\"\"rules\"\":[{\"\"id\"\":\"\"ios\"\",\"\"when\"\":{\"\"os\"\":[\"\"ios\"\"]},\"\"target\"\":\"\"https://example.org/ios\"\"}]}\""); // 9

        var (status, report) = await ImportAsync(http, csv, "atomic");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.False(report.GetProperty("committed").GetBoolean());
        Assert.Equal(8, report.GetProperty("rows").GetInt32());
        Assert.Equal(0, report.GetProperty("created").GetInt32());
        var errors = Errors(report);
        Assert.Equal(
            [(3, "target"), (4, "slug"), (5, "tags"), (6, "routing.rules[0].nope"), (7, "slug"), (8, null)],
            errors.Select(e => (e.Row, e.Field)).ToArray());
        Assert.Contains("row 2", errors.Single(e => e.Row == 7).Message);
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
        Assert.Equal(0, await OwnerCodesAsync("bulk-rows"));

        // Best effort: the same file creates the two good rows and reports the same refusals.
        (status, report) = await ImportAsync(http, csv, "best-effort");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(report.GetProperty("committed").GetBoolean());
        Assert.Equal(2, report.GetProperty("created").GetInt32());
        Assert.Equal(6, report.GetProperty("refused").GetInt32());
        Assert.Equal([3, 4, 5, 6, 7, 8], Errors(report).Select(e => e.Row).ToArray());
        var codes = report.GetProperty("codes").EnumerateArray().ToList();
        Assert.Equal([2, 9], codes.Select(c => c.GetProperty("row").GetInt32()).ToArray());
        Assert.Equal("rows-good-a", codes[0].GetProperty("code").GetString());
        Assert.Equal("https://qr.example.com/r/rows-good-a", codes[0].GetProperty("shortUrl").GetString());
        Assert.Equal(2, await OwnerCodesAsync("bulk-rows"));
        Assert.Equal(1, await _deployment.ScalarAsync(
            "SELECT count(*) FROM qr_codes WHERE code = 'rows-good-a' AND title = 'Good A' AND tags = ARRAY['spring','poster']"));

        // The created codes work at once, routing included, as if created one by one.
        using (var scan = await _deployment.Http.GetAsync("/r/rows-good-a"))
        {
            Assert.Equal("https://example.org/a", scan.Headers.Location?.ToString());
        }

        var random = codes[1].GetProperty("code").GetString()!;
        using (var iphone = new HttpRequestMessage(HttpMethod.Get, $"/r/{random}"))
        {
            iphone.Headers.TryAddWithoutValidation("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1");
            using var scan = await _deployment.Http.SendAsync(iphone);
            Assert.Equal("https://example.org/ios", scan.Headers.Location?.ToString());
        }

        // A slug taken is only found by the database: atomic, the other rows are rolled back with it.
        var taken = $"{Header}\nhttps://example.org/new,rows-fresh,,,\nhttps://example.org/again,ROWS-GOOD-A,,,";
        (status, report) = await ImportAsync(http, taken, "atomic");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal([(3, "slug")], Errors(report).Select(e => (e.Row, e.Field)).ToArray());
        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes WHERE code = 'rows-fresh'"));

        (status, report) = await ImportAsync(http, taken, "best-effort");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, report.GetProperty("created").GetInt32());
        Assert.Equal([(3, "slug")], Errors(report).Select(e => (e.Row, e.Field)).ToArray());
    }

    [Fact]
    public async Task Files_that_cannot_be_read_are_4xx_problems_and_create_nothing()
    {
        using var http = await _deployment.CreateOwnerClientAsync("bulk-files");
        var many = new StringBuilder(Header + "\n");
        for (var i = 0; i <= 10_000; i++)
        {
            many.Append("https://example.org/x,,,,\n");
        }

        var cases = new (string Name, HttpContent Body, string Mode, HttpStatusCode Expected)[]
        {
            ("unknown column", Csv("target,colour\nhttps://example.org,red"), "atomic", HttpStatusCode.BadRequest),
            ("no target column", Csv("slug,title\nabc-def,x"), "atomic", HttpStatusCode.BadRequest),
            ("empty", Csv(""), "atomic", HttpStatusCode.BadRequest),
            ("latin-1", Bytes(Encoding.Latin1.GetBytes($"{Header}\nhttps://example.org/caf\u00e9,,Caf\u00e9,,")), "atomic", HttpStatusCode.BadRequest),
            ("open quote", Csv($"{Header}\nhttps://example.org,\"never closed,,,"), "atomic", HttpStatusCode.BadRequest),
            ("10,001 rows", Csv(many.ToString()), "best-effort", HttpStatusCode.RequestEntityTooLarge),
            ("over 8 MB", Csv(Header + "\n" + new string('x', 8 * 1024 * 1024)), "atomic", HttpStatusCode.RequestEntityTooLarge),
            ("json", new StringContent("{}", Encoding.UTF8, "application/json"), "atomic", HttpStatusCode.UnsupportedMediaType),
            ("latin-1 charset", new StringContent($"{Header}\nhttps://example.org,,,,", Encoding.Latin1, "text/csv"), "atomic", HttpStatusCode.UnsupportedMediaType),
            ("bad mode", Csv($"{Header}\nhttps://example.org,,,,"), "sometimes", HttpStatusCode.BadRequest),
        };

        foreach (var (name, body, mode, expected) in cases)
        {
            // As curl does for large bodies: the gateway answers 413 from Content-Length before the body is sent.
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/bulk/codes?mode={mode}") { Content = body };
            request.Headers.ExpectContinue = true;
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(expected == response.StatusCode, $"{name}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            // Every answer says what is wrong (a body that is not CSV at all is refused by the routing, with its title).
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.True(problem.TryGetProperty(expected == HttpStatusCode.UnsupportedMediaType ? "title" : "detail", out var why) && why.GetString()!.Length > 0, $"{name}: {text}");
        }

        Assert.Equal(0, await OwnerCodesAsync("bulk-files"));
    }

    [Fact]
    public async Task Ten_thousand_rows_are_created_in_seconds_within_the_owner_quota()
    {
        using var http = await _deployment.CreateOwnerClientAsync("bulk-10k");
        var csv = new StringBuilder(Header + "\n");
        for (var i = 0; i < 10_000; i++)
        {
            // Half with a slug of their own, half random; every tenth with routing, as in a real campaign file.
            csv.Append($"https://example.org/campaign/{i},{(i % 2 == 0 ? $"tenk-{i}" : "")},Poster {i},tenk|batch-{i % 7},");
            csv.Append(i % 10 == 0 ? "\"{\"\"rules\"\":[{\"\"id\"\":\"\"m\"\",\"\"when\"\":{\"\"device\"\":[\"\"mobile\"\"]},\"\"target\"\":\"\"https://m.example.org/\"\"}]}\"\n" : "\n");
        }

        var watch = Stopwatch.StartNew();
        var (status, report) = await ImportAsync(http, csv.ToString(), "atomic");
        watch.Stop();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(10_000, report.GetProperty("created").GetInt32());
        Assert.Empty(Errors(report));
        Assert.Equal(10_000, await OwnerCodesAsync("bulk-10k"));
        Assert.Equal(1_000, await _deployment.ScalarAsync(
            "SELECT count(*) FROM qr_codes c JOIN owners o ON o.id = c.owner_id WHERE o.name = 'bulk-10k' AND c.routing IS NOT NULL"));
        output.WriteLine($"10,000 rows ({csv.Length / 1024} KB) in {watch.ElapsedMilliseconds} ms: {10_000 / watch.Elapsed.TotalSeconds:N0} rows/s");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"10,000 rows took {watch.Elapsed}");

        using (var scan = await _deployment.Http.GetAsync("/r/tenk-9998"))
        {
            Assert.Equal("https://example.org/campaign/9998", scan.Headers.Location?.ToString());
        }

        // The owner now has Owners:MaxCodes (10,000) codes: one more row is over the quota.
        (status, _) = await ImportAsync(http, $"{Header}\nhttps://example.org/one-more,,,,", "atomic");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        (status, report) = await ImportAsync(http, $"{Header}\nhttps://example.org/one-more,,,,", "best-effort");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal([(2, (string?)null)], Errors(report).Select(e => (e.Row, e.Field)).ToArray());
        Assert.Contains("quota", Errors(report)[0].Message);
    }

    [Fact]
    public async Task A_zip_of_a_tag_or_a_list_holds_each_code_as_a_qr_of_its_short_url()
    {
        using var http = await _deployment.CreateOwnerClientAsync("bulk-zip");
        var (status, report) = await ImportAsync(http, string.Join("\n",
            Header,
            "https://example.org/z1,zip-one,,zipped,",
            "https://example.org/z2,zip-two,,zipped,",
            "https://example.org/z3,,,zipped,",
            "https://example.org/z4,zip-other,,other,"), "atomic");
        Assert.Equal(HttpStatusCode.OK, status);
        var zipped = report.GetProperty("codes").EnumerateArray().Take(3).Select(c => c.GetProperty("code").GetString()!).ToHashSet();

        using (var response = await http.GetAsync("/api/bulk/qr.zip?tag=zipped&format=png&size=256", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("zipped-png.zip", response.Content.Headers.ContentDisposition?.ToString());
            // Streamed: no length known up front.
            Assert.Null(response.Content.Headers.ContentLength);
            using var zip = new ZipArchive(new MemoryStream(await response.Content.ReadAsByteArrayAsync()));
            Assert.Equal(zipped.Select(c => $"{c}.png").Order(), zip.Entries.Select(e => e.FullName).Order());
            foreach (var entry in zip.Entries)
            {
                using var image = new MemoryStream();
                await using (var stream = entry.Open())
                {
                    await stream.CopyToAsync(image);
                }

                Assert.Equal($"https://qr.example.com/r/{Path.GetFileNameWithoutExtension(entry.FullName)}", await QrDecoder.DecodePngAsync(image.ToArray()));
            }
        }

        using (var response = await http.PostAsJsonAsync("/api/bulk/qr.zip?format=svg", new { codes = new[] { "zip-other", "ZIP-ONE" } }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var zip = new ZipArchive(new MemoryStream(await response.Content.ReadAsByteArrayAsync()));
            Assert.Equal(["zip-one.svg", "zip-other.svg"], zip.Entries.Select(e => e.FullName).Order().ToArray());
            foreach (var entry in zip.Entries)
            {
                using var reader = new StreamReader(entry.Open());
                Assert.Equal($"https://qr.example.com/r/{Path.GetFileNameWithoutExtension(entry.FullName)}", await QrDecoder.DecodeSvgAsync(await reader.ReadToEndAsync()));
            }
        }

        // Another owner's code is as unknown as a code that does not exist; a tag without codes is a 404 too.
        using var stranger = await _deployment.CreateOwnerClientAsync("bulk-zip-stranger");
        foreach (var path in new[] { "/api/bulk/qr.zip?codes=zip-one", "/api/bulk/qr.zip?tag=zipped", "/api/bulk/qr.zip?codes=no-such-code" })
        {
            using var response = await stranger.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        foreach (var path in new[] { "/api/bulk/qr.zip?tag=zipped&format=gif", "/api/bulk/qr.zip", "/api/bulk/qr.zip?tag=zipped&codes=zip-one", "/api/bulk/qr.zip?tag=zipped&size=9000" })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task A_bulk_edit_is_seen_by_the_next_scan_of_every_code_it_changed()
    {
        using var http = await _deployment.CreateOwnerClientAsync("bulk-edit");
        var rows = Enumerable.Range(0, 50).Select(i => $"https://example.org/before/{i},edit-{i},,wave|keep,");
        var (status, _) = await ImportAsync(http, Header + "\n" + string.Join("\n", rows), "atomic");
        Assert.Equal(HttpStatusCode.OK, status);
        using var stranger = await _deployment.CreateOwnerClientAsync("bulk-edit-stranger");
        using (var theirs = await stranger.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/theirs", code = "edit-theirs", tags = new[] { "wave" } }))
        {
            Assert.Equal(HttpStatusCode.Created, theirs.StatusCode);
        }

        // Scanned first, so the grains hold the old target in memory.
        foreach (var i in new[] { 0, 17, 49 })
        {
            using var scan = await _deployment.Http.GetAsync($"/r/edit-{i}");
            Assert.Equal($"https://example.org/before/{i}", scan.Headers.Location?.ToString());
        }

        var edit = await EditAsync(http, new { tag = "wave", targetUrl = "https://example.org/after", addTags = new[] { "edited" }, removeTags = new[] { "KEEP" } });
        Assert.Equal((50, 50, 0), (edit.GetProperty("matched").GetInt32(), edit.GetProperty("updated").GetInt32(), edit.GetProperty("unchanged").GetInt32()));
        foreach (var i in new[] { 0, 17, 49, 3 })
        {
            using var scan = await _deployment.Http.GetAsync($"/r/edit-{i}");
            Assert.Equal("https://example.org/after", scan.Headers.Location?.ToString());
        }

        Assert.Equal(50, await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes WHERE code LIKE 'edit-%' AND tags = ARRAY['wave','edited']"));
        using (var theirs = await _deployment.Http.GetAsync("/r/edit-theirs"))
        {
            Assert.Equal("https://example.org/theirs", theirs.Headers.Location?.ToString());
        }

        // Disable a list (one listed code is not this owner's), then enable again: each next scan follows.
        edit = await EditAsync(http, new { codes = new[] { "edit-0", "EDIT-17", "edit-theirs" }, enabled = false });
        Assert.Equal(2, edit.GetProperty("updated").GetInt32());
        Assert.Equal(["edit-theirs"], edit.GetProperty("notFound").EnumerateArray().Select(e => e.GetString()!).ToArray());
        foreach (var (code, expected) in new[] { ("edit-0", HttpStatusCode.Gone), ("edit-17", HttpStatusCode.Gone), ("edit-49", HttpStatusCode.Found), ("edit-theirs", HttpStatusCode.Found) })
        {
            using var scan = await _deployment.Http.GetAsync($"/r/{code}");
            Assert.Equal(expected, scan.StatusCode);
        }

        edit = await EditAsync(http, new { tag = "edited", enabled = true });
        Assert.Equal((50, 2, 48), (edit.GetProperty("matched").GetInt32(), edit.GetProperty("updated").GetInt32(), edit.GetProperty("unchanged").GetInt32()));
        using (var back = await _deployment.Http.GetAsync("/r/edit-0"))
        {
            Assert.Equal(HttpStatusCode.Found, back.StatusCode);
        }

        edit = await EditAsync(http, new { tag = "edited", setTags = new[] { "final" } });
        Assert.Equal(50, edit.GetProperty("updated").GetInt32());
        Assert.Equal(50, await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes WHERE code LIKE 'edit-%' AND tags = ARRAY['final']"));

        foreach (var bad in new object[]
        {
            new { tag = "final" },                                             // nothing to change
            new { tag = "final", codes = new[] { "edit-1" }, enabled = true }, // two filters
            new { tag = "final", setTags = new[] { "a" }, addTags = new[] { "b" } },
            new { tag = "final", targetUrl = "javascript:alert(1)" },
            new { tag = "final", addTags = new[] { "no/slash" } },
            new { codes = new[] { "not a code" }, enabled = true },
        })
        {
            using var response = await http.PostAsJsonAsync("/api/bulk/edit", bad);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    private static StringContent Csv(string text) => new(text, new UTF8Encoding(false), "text/csv");

    private static ByteArrayContent Bytes(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("text/csv");
        return content;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Report)> ImportAsync(HttpClient http, string csv, string mode)
    {
        using var response = await http.PostAsync($"/api/bulk/codes?mode={mode}", Csv(csv));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static async Task<JsonElement> EditAsync(HttpClient http, object body)
    {
        using var response = await http.PostAsJsonAsync("/api/bulk/edit", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static List<(int Row, string? Field, string Message)> Errors(JsonElement report) =>
        [.. report.GetProperty("errors").EnumerateArray().Select(e => (
            e.GetProperty("row").GetInt32(),
            e.GetProperty("field").ValueKind == JsonValueKind.Null ? null : e.GetProperty("field").GetString(),
            e.GetProperty("message").GetString()!))];

    private Task<long> OwnerCodesAsync(string owner) => _deployment.ScalarAsync(
        "SELECT count(*) FROM qr_codes c JOIN owners o ON o.id = c.owner_id WHERE o.name = $1", owner);
}
