using System.Net;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NJsonSchema.CodeGeneration.CSharp;
using NSwag;
using NSwag.CodeGeneration.CSharp;
using NSwag.CodeGeneration.OperationNameGenerators;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// The OpenAPI document as a client author uses it: a C# client generated from the served <c>/openapi/v1.json</c>
/// (NSwag, in process), compiled (Roslyn) and used against the real gateway. Every response the client receives is
/// also checked against the schema the document gives for its operation and status, so a missing or wrong schema fails.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class GeneratedClientTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_client_generated_from_the_document_creates_lists_reads_and_counts_a_scanned_code()
    {
        using var anonymous = _host.CreateClient();
        var json = await anonymous.GetStringAsync("/openapi/v1.json");
        var document = await OpenApiDocument.FromJsonAsync(json);
        var assembly = Compile(Generate(document), out var context);
        try
        {
            var clientType = assembly.GetType("InvexQr.Generated.InvexQrClient", throwOnError: true)!;
            // Responses are typed: a 200 without a schema would be generated as Task or FileResponse.
            foreach (var (method, type) in new[]
            {
                ("CreateCodeAsync", "CodeResponse"), ("GetCodeAsync", "CodeResponse"), ("ListCodesAsync", "CodeListPage"),
                ("GetCodeStatsAsync", "StatsResponse"), ("GetAccountStatsAsync", "StatsResponse"), ("ListKeysAsync", "ICollection`1"),
                ("ListOwnersAsync", "OwnerPage"), ("CreateOwnerAsync", "CreatedOwnerResponse"), ("PreviewRoutingAsync", "RoutingPreviewResponse"),
            })
            {
                var returned = clientType.GetMethods().First(m => m.Name == method).ReturnType;
                Assert.True(returned.IsGenericType && returned.GetGenericArguments()[0].Name == type, $"{method} returns {returned}, not Task<{type}>");
            }

            var recorder = new SchemaCheckingHandler(document) { InnerHandler = new SocketsHttpHandler { AllowAutoRedirect = false } };
            using var http = new HttpClient(recorder) { BaseAddress = _host.BaseAddress };
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GatewayHost.ApiKey);
            dynamic client = Activator.CreateInstance(clientType, http)!;
            client.BaseUrl = _host.BaseAddress.ToString(); // not the document's server: the client must be pointed anywhere

            // Create, with optional fields left out (a generated request type must not demand them).
            var slug = "gen-" + Guid.NewGuid().ToString("N")[..8];
            dynamic request = New(assembly, "CreateCodeRequest");
            request.TargetUrl = "https://example.org/generated";
            request.Code = slug;
            request.Tags = new List<string> { "generated" };
            dynamic created = await client.CreateCodeAsync(request);
            Assert.Equal(slug, (string)created.Code);
            Assert.Equal($"https://qr.example.com/r/{slug}", (string)created.ShortUrl);
            Assert.Equal("active", created.Status.ToString().ToLowerInvariant());

            dynamic fetched = await client.GetCodeAsync(slug);
            Assert.Equal("https://example.org/generated", (string)fetched.TargetUrl);

            dynamic page = await client.ListCodesAsync(limit: 10, q: slug);
            Assert.Equal(slug, (string)Enumerable.Single((IEnumerable<dynamic>)page.Items).Code);

            // The scan itself is a phone's GET of the short URL.
            using (var scan = await anonymous.GetAsync($"/r/{slug}"))
            {
                Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
            }

            await _host.FlushAsync();
            dynamic stats = await client.GetCodeStatsAsync(slug, granularity: (dynamic)EnumArgument(clientType, "GetCodeStatsAsync", "granularity", "Hour"), tz: "Europe/Paris");
            Assert.Equal(1L, (long)stats.Totals.Scans);
            Assert.Equal(1L, Enumerable.Sum(((IEnumerable<dynamic>)stats.Series).Select(b => (long)b.Scans)));
            Assert.Equal("Europe/Paris", (string)stats.Tz);
            dynamic account = await client.GetAccountStatsAsync();
            Assert.Contains(((IEnumerable<dynamic>)account.TopCodes).Select(t => (string)t.Code), c => c == slug);

            // Errors come back as the documented problem types.
            var missing = await Assert.ThrowsAnyAsync<Exception>(() => (Task)client.GetCodeAsync("no-such-code-here"));
            Assert.Equal(404, (int)((dynamic)missing).StatusCode);
            var invalid = await Assert.ThrowsAnyAsync<Exception>(() => (Task)client.ListCodesAsync(limit: 0));
            Assert.Equal(400, (int)((dynamic)invalid).StatusCode);
            Assert.Contains("limit", ((IDictionary<string, ICollection<string>>)((dynamic)invalid).Result.Errors).Keys);

            Assert.Equal(7, recorder.Checked); // every call above went through the schema check
        }
        finally
        {
            context.Unload();
        }
    }

    private static string Generate(OpenApiDocument document)
    {
        var settings = new CSharpClientGeneratorSettings
        {
            ClassName = "InvexQrClient",
            OperationNameGenerator = new SingleClientFromOperationIdOperationNameGenerator(),
            GenerateClientInterfaces = false,
            UseBaseUrl = true,
            GenerateOptionalParameters = true,
            CSharpGeneratorSettings = { Namespace = "InvexQr.Generated", JsonLibrary = CSharpJsonLibrary.SystemTextJson },
        };
        return new CSharpClientGenerator(document, settings).GenerateFile();
    }

    private static Assembly Compile(string code, out AssemblyLoadContext context)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal)
                || Path.GetFileName(path) is "netstandard.dll" or "mscorlib.dll" or "Microsoft.CSharp.dll")
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create(
            "InvexQr.Generated",
            [CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest))],
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        var errors = emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(10).ToList();
        Assert.True(emitted.Success, "the generated client does not compile:\n" + string.Join('\n', errors));
        image.Position = 0;
        context = new AssemblyLoadContext("generated-client", isCollectible: true);
        return context.LoadFromStream(image);
    }

    private static object New(Assembly assembly, string name) =>
        Activator.CreateInstance(assembly.GetTypes().Single(t => t.Name == name))!;

    /// <summary>A value of the enum the generator made for a query parameter (the document's <c>enum</c> of it).</summary>
    private static object EnumArgument(Type client, string method, string parameter, string value)
    {
        var type = client.GetMethods().First(m => m.Name == method).GetParameters().Single(p => p.Name == parameter).ParameterType;
        type = Nullable.GetUnderlyingType(type) ?? type;
        Assert.True(type.IsEnum, $"{method}({parameter}) is a {type}, not an enum");
        return Enum.Parse(type, value);
    }

    /// <summary>Checks each response against the document: its status is documented for the operation, and its JSON body fits that status's schema.</summary>
    private sealed class SchemaCheckingHandler(OpenApiDocument document) : DelegatingHandler
    {
        public int Checked { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            var path = request.RequestUri!.AbsolutePath;
            var operation = document.Operations.SingleOrDefault(o =>
                string.Equals(o.Method, request.Method.Method, StringComparison.OrdinalIgnoreCase) && Template(o.Path).IsMatch(path));
            Assert.True(operation is not null, $"{request.Method} {path} is not in the document");
            var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(operation.Operation.ActualResponses.TryGetValue(status, out var documented),
                $"{request.Method} {operation.Path} answered {status}, which the document does not list");
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.Ordinal) == true)
            {
                var schema = documented.Content.Values.FirstOrDefault()?.Schema?.ActualSchema;
                Assert.True(schema is not null, $"{request.Method} {operation.Path} {status}: no schema for its JSON body");
                var errors = schema.Validate(body);
                Assert.True(errors.Count == 0, $"{request.Method} {operation.Path} {status}: the body does not fit the schema: "
                    + string.Join("; ", errors.Select(e => $"{e.Path}: {e.Kind}")) + "\n" + body);
            }

            Checked++;
            return response;
        }

        private static Regex Template(string template) =>
            new("^" + Regex.Replace(Regex.Escape(template), @"\\\{[^}]+}", "[^/]+") + "$");
    }
}
