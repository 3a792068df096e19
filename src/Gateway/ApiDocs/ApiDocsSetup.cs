using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.FileProviders;
using Microsoft.OpenApi;

namespace InvexQr.Gateway.ApiDocs;

/// <summary>
/// The OpenAPI document (<c>/openapi/v1.json</c>, generated from the endpoints' metadata) and an
/// interactive page at <c>/docs</c> (Swagger UI from the pinned npm package <c>swagger-ui-dist</c>,
/// served from disk: no CDN). Both are public: they describe the API, they hold no data.
/// </summary>
public static class ApiDocsSetup
{
    public const string DocumentPath = "/openapi/v1.json";

    public static WebApplicationBuilder AddApiDocs(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi("v1", options => options
            .AddSchemaTransformer(ContractSchemas.TransformAsync)
            .AddOperationTransformer(ContractSchemas.TransformOperationAsync)
            .AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "InvexQR API",
                Version = "v1",
                Description = "Dynamic QR codes: manage codes, download their images, read their scan statistics. "
                    + "Every /api route needs an API key: `Authorization: Bearer iqr_…` or `X-Api-Key: iqr_…`. "
                    + "Errors are application/problem+json; another owner's code answers 404, exactly like a missing one.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An InvexQR API key (iqr_…).",
            };
            document.Components.SecuritySchemes["apiKey"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-Api-Key",
                Description = "The same key in the X-Api-Key header.",
            };
            document.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("apiKey", document)] = [] },
            ];
            ContractSchemas.Finish(document);
            return Task.CompletedTask;
        }));
        return builder;
    }

    public static WebApplication MapApiDocs(this WebApplication app)
    {
        app.MapOpenApi(DocumentPath).AllowAnonymous().ExcludeFromDescription();

        var assets = Path.GetFullPath(app.Configuration["Docs:SwaggerUiPath"] ?? ".data/npm/node_modules/swagger-ui-dist");
        if (!File.Exists(Path.Combine(assets, "swagger-ui-bundle.js")))
        {
            app.Logger.LogWarning("Interactive API page off: Swagger UI assets not found at {Path} (scripts/fetch-data.sh installs them); {Document} is served", assets, DocumentPath);
            return app;
        }

        var files = new PhysicalFileProvider(assets);
        foreach (var name in new[] { "swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png" })
        {
            var contentType = name.EndsWith(".css", StringComparison.Ordinal) ? "text/css"
                : name.EndsWith(".js", StringComparison.Ordinal) ? "text/javascript" : "image/png";
            app.MapGet($"/docs/{name}", (HttpContext http) =>
            {
                http.Response.Headers.CacheControl = "public, max-age=86400";
                return Results.Stream(files.GetFileInfo(name).CreateReadStream(), contentType);
            }).AllowAnonymous().ExcludeFromDescription();
        }

        app.MapGet("/docs/start.js", (HttpContext http) =>
        {
            http.Response.Headers.CacheControl = "no-cache";
            return Results.Text(StartScript, "text/javascript");
        }).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/docs", (HttpContext http) =>
        {
            // Swagger UI sets inline styles as it renders; scripts come only from this origin.
            http.Response.Headers.ContentSecurityPolicy =
                "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
            http.Response.Headers.CacheControl = "no-cache";
            return Results.Content(Page, "text/html; charset=utf-8");
        }).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    private const string Page = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>InvexQR API</title>
          <link rel="icon" href="/docs/favicon-32x32.png">
          <link rel="stylesheet" href="/docs/swagger-ui.css">
        </head>
        <body>
          <main id="swagger-ui"></main>
          <script src="/docs/swagger-ui-bundle.js"></script>
          <script src="/docs/start.js"></script>
        </body>
        </html>
        """;

    private const string StartScript = """
        // Renders the API's own OpenAPI document; "Authorize" takes an API key.
        window.ui = SwaggerUIBundle({ url: "/openapi/v1.json", dom_id: "#swagger-ui", deepLinking: true, persistAuthorization: false });
        """;
}

/// <summary>
/// What makes the document one clients can be generated from: integers typed as integers, enums and bounds from the
/// attributes on parameter objects and records, a schema for every body, tags with descriptions, one operation per route.
/// </summary>
internal static class ContractSchemas
{
    private static readonly Dictionary<string, string> TagDescriptions = new()
    {
        ["Scans"] = "The public short URL a QR code encodes (no key).",
        ["Codes"] = "Create, list, read, change and delete the caller's codes.",
        ["Routing"] = "Smart routing: preview where a scan would go, and the caller's fallback URL.",
        ["QR images"] = "A code as a PNG, SVG or terminal image.",
        ["Stats"] = "Scan statistics from the rollups, and the raw scans as CSV.",
        ["Owners"] = "Owners (admin keys only).",
        ["API keys"] = "The caller's API keys.",
        ["Dashboard"] = "The dashboard's session cookie (browser use).",
    };

    /// <summary>
    /// System.Text.Json reads numbers from strings too (the web default), so the generator types every integer as
    /// integer-or-string with a digits pattern; the contract is the integer.
    /// </summary>
    public static Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (schema.Type is { } type && (type.HasFlag(JsonSchemaType.Integer) || type.HasFlag(JsonSchemaType.Number)) && type.HasFlag(JsonSchemaType.String))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        var attributes = context.ParameterDescription?.ParameterDescriptor is IParameterInfoParameterDescriptor parameter
            ? parameter.ParameterInfo.GetCustomAttributes(inherit: true).OfType<Attribute>()
            : context.JsonPropertyInfo?.AttributeProvider?.GetCustomAttributes(inherit: true).OfType<Attribute>() ?? [];
        foreach (var attribute in attributes)
        {
            switch (attribute)
            {
                case AllowedValuesAttribute allowed:
                    schema.Enum = [.. allowed.Values.Select(v => (JsonNode)JsonValue.Create(Convert.ToString(v, CultureInfo.InvariantCulture) ?? string.Empty))];
                    if (schema.Type is { } nullable && nullable.HasFlag(JsonSchemaType.Null))
                    {
                        schema.Enum.Add(null!);
                    }

                    break;
                case RangeAttribute range:
                    schema.Minimum = Convert.ToString(range.Minimum, CultureInfo.InvariantCulture);
                    schema.Maximum = Convert.ToString(range.Maximum, CultureInfo.InvariantCulture);
                    break;
                case MaxLengthAttribute maxLength:
                    schema.MaxLength = maxLength.Length;
                    break;
                case RegularExpressionAttribute expression:
                    schema.Pattern = expression.Pattern;
                    break;
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Non-JSON bodies (images, CSV, text), declared with <c>Produces(status, contentType: …)</c>, get their content and
    /// schema: what a generator needs to return them as a stream or a string.
    /// </summary>
    public static Task TransformOperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        // The description drops the content types of a response declared without a type, so they are read from the metadata.
        foreach (var declared in context.Description.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Http.Metadata.IProducesResponseTypeMetadata>())
        {
            var status = declared.StatusCode.ToString(CultureInfo.InvariantCulture);
            if (operation.Responses?.GetValueOrDefault(status) is not OpenApiResponse response)
            {
                continue;
            }

            foreach (var mediaType in declared.ContentTypes.Where(t => !t.Contains("json", StringComparison.Ordinal)))
            {
                response.Content ??= new Dictionary<string, OpenApiMediaType>();
                if (!response.Content.TryGetValue(mediaType, out var media) || media.Schema is null)
                {
                    response.Content[mediaType] = new OpenApiMediaType
                    {
                        Schema = mediaType.StartsWith("image/png", StringComparison.Ordinal) || mediaType.StartsWith("application/zip", StringComparison.Ordinal)
                            ? new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" }
                            : new OpenApiSchema { Type = JsonSchemaType.String },
                    };
                }
            }
        }

        if (Examples.TryGetValue(operation.OperationId ?? string.Empty, out var example)
            && operation.RequestBody?.Content is { } bodies && bodies.TryGetValue("application/json", out var body))
        {
            body.Example = JsonNode.Parse(example);
        }

        return Task.CompletedTask;
    }

    // Request examples, checked by the OpenAPI lint (no-invalid-media-type-examples) against their schemas.
    private static readonly Dictionary<string, string> Examples = new()
    {
        ["CreateCode"] = """{ "targetUrl": "https://example.org/spring?utm_source=poster", "code": "spring-poster", "title": "Spring poster", "tags": ["print"], "maxScans": 10000 }""",
        ["UpdateCode"] = """{ "targetUrl": "https://example.org/summer", "expiresAt": null }""",
        ["PreviewRouting"] = """{ "device": "mobile", "country": "FR", "language": "fr-FR,fr;q=0.9" }""",
        ["SetFallback"] = """{ "fallbackUrl": "https://example.org/expired" }""",
        ["CreateOwner"] = """{ "name": "Marketing team", "role": "owner" }""",
        ["CreateKey"] = """{ "name": "CI pipeline" }""",
    };

    public static void Finish(OpenApiDocument document)
    {
        foreach (var path in document.Paths.Values)
        {
            // HEAD answers as GET without a body; two operations with one operationId would be one too many for clients.
            if (path.Operations is { } operations && operations.ContainsKey(HttpMethod.Get))
            {
                operations.Remove(HttpMethod.Head);
            }
        }

        document.Tags = new HashSet<OpenApiTag>(TagDescriptions.Select(t => new OpenApiTag { Name = t.Key, Description = t.Value }));
        // The server the document was fetched from, without the trailing slash that would double every path's.
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }
    }
}
