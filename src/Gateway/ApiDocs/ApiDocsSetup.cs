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
        builder.Services.AddOpenApi("v1", options => options.AddDocumentTransformer((document, _, _) =>
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
