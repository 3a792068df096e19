using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>The OpenAPI document and the interactive page, as a newcomer fetches them.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class ApiDocsTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_openapi_document_lists_every_endpoint_with_its_errors_and_the_key_schemes()
    {
        using var anonymous = new HttpClient { BaseAddress = _host.BaseAddress };
        using var response = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        var document = JsonDocument.Parse(text).RootElement;
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString());
        SaveForLinter(text);

        var paths = document.GetProperty("paths");
        var expected = new (string Path, string Method, string[] Statuses)[]
        {
            ("/r/{code}", "get", ["302", "404", "410", "429", "503"]),
            ("/api/codes", "post", ["201", "400", "401", "409", "413", "415"]),
            ("/api/codes", "get", ["200", "400", "401"]),
            ("/api/codes/{code}", "get", ["200", "401", "404"]),
            ("/api/codes/{code}", "patch", ["200", "400", "401", "404"]),
            ("/api/codes/{code}", "delete", ["204", "401", "404"]),
            ("/api/codes/{code}/qr.png", "get", ["200", "400", "401", "404"]),
            ("/api/codes/{code}/qr.svg", "get", ["200", "400", "401", "404"]),
            ("/api/codes/{code}/stats", "get", ["200", "400", "401", "404"]),
            ("/api/stats", "get", ["200", "400", "401"]),
            ("/api/codes/{code}/scans.csv", "get", ["200", "400", "401", "404"]),
            ("/api/keys", "get", ["200", "401"]),
            ("/api/keys", "post", ["201", "400", "401"]),
            ("/api/keys/{keyId}", "delete", ["204", "401", "404"]),
            ("/api/owners", "get", ["200", "400", "401", "403"]),
            ("/api/owners", "post", ["201", "400", "401", "403", "409"]),
            ("/api/owners/{ownerId}", "delete", ["204", "401", "403", "404", "409"]),
        };
        foreach (var (path, method, statuses) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} missing; paths: {string.Join(", ", paths.EnumerateObject().Select(p => p.Name))}");
            Assert.True(item.TryGetProperty(method, out var operation), $"{method} {path} missing");
            Assert.False(string.IsNullOrEmpty(operation.GetProperty("summary").GetString()), $"{method} {path} has no summary");
            var responses = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();
            Assert.True(statuses.All(responses.Contains), $"{method} {path}: documents {string.Join(",", responses)}, expected {string.Join(",", statuses)}");
        }

        Assert.True(paths.GetProperty("/api/codes").GetProperty("post").TryGetProperty("requestBody", out _));
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
        Assert.Equal("X-Api-Key", schemes.GetProperty("apiKey").GetProperty("name").GetString());
        Assert.False(paths.TryGetProperty("/metrics", out _)); // operators' endpoints are not part of the public API
        Assert.DoesNotContain(paths.EnumerateObject(), p => p.Name.StartsWith("/orleans", StringComparison.Ordinal));

        // The owners list: typed parameters and a response schema; the description has no "<key>" a Markdown renderer would drop.
        var listOwners = paths.GetProperty("/api/owners").GetProperty("get");
        var parameters = listOwners.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?> { "limit", "after" }, parameters);
        Assert.True(listOwners.GetProperty("responses").GetProperty("200").GetProperty("content").TryGetProperty("application/json", out _));
        var description = document.GetProperty("info").GetProperty("description").GetString()!;
        Assert.DoesNotContain("<", description);
        Assert.Contains("Authorization: Bearer iqr_", description);
    }

    /// <summary>Where scripts/lint-openapi.sh finds the served document (git-ignored, like the data packages).</summary>
    public static string SavedDocumentPath => Path.Combine(Repo.Root, ".data", "openapi", "v1.json");

    private static void SaveForLinter(string document)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(SavedDocumentPath)!);
        File.WriteAllText(SavedDocumentPath + ".tmp", document);
        File.Move(SavedDocumentPath + ".tmp", SavedDocumentPath, overwrite: true);
    }

    [Fact]
    public async Task Every_operation_has_an_id_typed_parameters_and_a_schema_for_each_body()
    {
        using var anonymous = new HttpClient { BaseAddress = _host.BaseAddress };
        var document = JsonDocument.Parse(await anonymous.GetStringAsync("/openapi/v1.json")).RootElement;
        var ids = new HashSet<string>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var name = $"{operation.Name} {path.Name}";
                Assert.True(ids.Add(operation.Value.GetProperty("operationId").GetString()!), $"{name}: operationId missing or repeated");
                foreach (var parameter in operation.Value.TryGetProperty("parameters", out var list) ? list.EnumerateArray() : default)
                {
                    Assert.True(parameter.GetProperty("schema").TryGetProperty("type", out _), $"{name}: parameter {parameter.GetProperty("name")} has no type");
                    if (parameter.GetProperty("in").GetString() == "query")
                    {
                        // Named as clients send them (limit, not Limit).
                        Assert.Equal(parameter.GetProperty("name").GetString()!.ToLowerInvariant(), parameter.GetProperty("name").GetString());
                    }
                }

                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    foreach (var content in response.Value.TryGetProperty("content", out var c) ? c.EnumerateObject() : default)
                    {
                        Assert.True(content.Value.TryGetProperty("schema", out _), $"{name} {response.Name} {content.Name}: no schema");
                        if (response.Name[0] is '4' or '5')
                        {
                            Assert.Equal("application/problem+json", content.Name);
                        }
                    }

                    if (response.Name[0] == '2' && response.Name != "204")
                    {
                        Assert.True(response.Value.TryGetProperty("content", out _), $"{name} {response.Name}: no body described");
                    }
                }
            }
        }

        // The list's query: typed, bounded, enumerated.
        var query = document.GetProperty("paths").GetProperty("/api/codes").GetProperty("get").GetProperty("parameters").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("schema"));
        Assert.Equal("integer", query["limit"].GetProperty("type").GetString());
        Assert.Equal(100, query["limit"].GetProperty("maximum").GetInt32());
        Assert.Equal(["-createdAt", "createdAt"], query["sort"].GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Superset(new HashSet<string> { "cursor", "q", "tag" }, query.Keys.ToHashSet());
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.Equal(["targetUrl"], schemas.GetProperty("CreateCodeRequest").GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.True(schemas.TryGetProperty("StatsResponse", out _));
        Assert.True(schemas.TryGetProperty("CodeListPage", out _));
    }

    [Fact]
    public async Task The_interactive_page_is_served_locally_with_no_inline_script()
    {
        using var anonymous = new HttpClient { BaseAddress = _host.BaseAddress };
        using var page = await anonymous.GetAsync("/docs");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        var csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp);
        Assert.DoesNotContain("unsafe-inline' ", csp.Split("style-src")[0]);

        // Every script is a same-origin file; nothing comes from a CDN.
        var scripts = ScriptTag().Matches(html).Select(m => m.Groups["src"].Value).ToList();
        Assert.Equal(ScriptOpening().Matches(html).Count, scripts.Count);
        Assert.NotEmpty(scripts);
        Assert.DoesNotContain("http", html.Replace("http-equiv", ""), StringComparison.OrdinalIgnoreCase);
        foreach (var asset in scripts.Append("/docs/swagger-ui.css"))
        {
            using var file = await anonymous.GetAsync(asset);
            Assert.True(file.StatusCode == HttpStatusCode.OK, asset);
            Assert.True((await file.Content.ReadAsByteArrayAsync()).Length > 20, asset);
        }
    }

    [GeneratedRegex("<script src=\"(?<src>/[^\"]+)\"></script>")]
    private static partial Regex ScriptTag();

    [GeneratedRegex("<script")]
    private static partial Regex ScriptOpening();
}
