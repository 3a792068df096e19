using System.ComponentModel;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using InvexQr.Abstractions;
using InvexQr.Data;
using InvexQr.Gateway.Auth;
using InvexQr.Gateway.QrImages;
using InvexQr.Gateway.Redirects;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Routing;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using FromQueryAttribute = Microsoft.AspNetCore.Mvc.FromQueryAttribute;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace InvexQr.Gateway.Api;

/// <summary>
/// Work on many codes at once (<c>/api/bulk</c>): a CSV import with a report per row, a ZIP of QR images of a tag or a
/// list, and one edit applied to a tag or a list. Each row of an import passes exactly the checks of
/// <c>POST /api/codes</c> (<see cref="CodesApi.CheckCreate"/>) and the owner's quota; the rows go to the database in
/// one statement through <see cref="ICodeBulkGrain"/>.
/// </summary>
public static class BulkApi
{
    public const int MaxRows = 10_000;
    public const int MaxCsvBytes = 8 * 1024 * 1024;

    /// <summary>Codes a ZIP or an edit may select, and the JSON body that lists them.</summary>
    public const int MaxSelection = 10_000;
    public const int MaxSelectionBodyBytes = 1024 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IEndpointRouteBuilder MapBulkApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/bulk").RequireAuthorization().WithTags("Bulk").ProducesProblem(StatusCodes.Status401Unauthorized);
        api.MapPost("/codes", ImportAsync)
            .WithName("ImportCodes")
            .WithSummary("Create up to 10,000 codes from a UTF-8 CSV (columns target, slug, title, tags, routing; header required): "
                + "mode=atomic (nothing created if any row is refused, the default; then 422, a problem with the report's fields) or best-effort; a report per row.")
            .Accepts<string>("text/csv", "text/plain").Produces<BulkImportReport>().ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        api.MapPost("/edit", EditAsync)
            .WithName("EditCodes")
            .WithSummary("One change for every code with a tag or in a list: set, add or remove tags, set the target, enable or disable.")
            .Accepts<BulkEditRequest>("application/json").Produces<BulkEditReport>()
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/qr.zip", (HttpRequest request, [AsParameters] BulkZipQuery query, IClusterClient cluster, IOptions<GatewayOptions> options,
                IOptions<QrImageLimits> limits, QrRenderGate gate, ILoggerFactory logs) =>
                ZipAsync(request, query, new BulkSelectionRequest(query.Tag, query.Codes?.Split(',', StringSplitOptions.TrimEntries)), cluster,
                    options.Value, limits.Value, gate, logs))
            .WithName("GetBulkQrZip")
            .WithSummary("The QR images of a tag's codes (tag) or of listed codes (codes, comma-separated) as a ZIP, streamed; file names are the codes.")
            .Produces(StatusCodes.Status200OK, contentType: "application/zip")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .DisableRequestTimeout(); // thousands of images stream for longer than the default budget
        api.MapPost("/qr.zip", async (HttpRequest request, [AsParameters] BulkZipQuery query, IClusterClient cluster, IOptions<GatewayOptions> options,
                IOptions<QrImageLimits> limits, QrRenderGate gate, ILoggerFactory logs) =>
            {
                var (body, error) = await ReadSelectionBodyAsync<BulkSelectionRequest>(request);
                return body is null ? error! : await ZipAsync(request, query, body, cluster, options.Value, limits.Value, gate, logs);
            })
            .WithName("PostBulkQrZip")
            .WithSummary("The same ZIP for a selection too long for a query: the body names the tag or the codes.")
            .Accepts<BulkSelectionRequest>("application/json").Produces(StatusCodes.Status200OK, contentType: "application/zip")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status429TooManyRequests)
            .DisableRequestTimeout();
        return endpoints;
    }

    // ---- CSV import ----

    public static async Task<IResult> ImportAsync(
        HttpRequest request, [AsParameters] BulkImportQuery query, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options,
        TimeProvider clock, IOptions<OwnerLimits> limits, OwnerCodeCounts counts, IOptions<JsonOptions> json)
    {
        var atomic = query.Mode switch
        {
            null or "atomic" => true,
            "best-effort" => false,
            _ => (bool?)null,
        };
        if (atomic is null)
        {
            return JsonBody.Invalid("mode must be atomic (the default: nothing is created if any row is refused) or best-effort.", "mode");
        }

        if (CheckCsvContentType(request) is { } unsupported)
        {
            return unsupported;
        }

        var (bytes, tooLarge) = await ReadCappedAsync(request, MaxCsvBytes);
        if (bytes is null)
        {
            return tooLarge!;
        }

        string text;
        try
        {
            text = StrictUtf8.GetString(bytes.AsSpan(bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0));
        }
        catch (DecoderFallbackException ex)
        {
            return JsonBody.Invalid(
                $"The file is not UTF-8 (an invalid byte at offset {ex.Index}); save it as \"CSV UTF-8\".");
        }

        var ownerId = request.HttpContext.User.OwnerId();
        var isAdmin = request.HttpContext.User.IsInRole(Roles.Admin);
        var rules = new CodesApi.CreateRules(CodesApi.OwnHosts(request, options.Value), clock.GetUtcNow(), isAdmin, limits.Value);
        var (rows, errors, badFile) = ParseRows(text, ownerId, rules, json.Value.SerializerOptions);
        if (badFile is not null)
        {
            return badFile;
        }

        var total = rows.Count + errors.Count;
        if (!isAdmin)
        {
            var room = Math.Max(0, limits.Value.MaxCodes - await counts.CountAsync(ownerId, request.HttpContext.RequestAborted));
            if (rows.Count > room)
            {
                if (atomic.Value)
                {
                    return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Code quota reached.",
                        detail: $"The file has {rows.Count} valid rows and this owner may create {room} more codes "
                            + $"(at most {limits.Value.MaxCodes}, Owners:MaxCodes); nothing was created.");
                }

                foreach (var over in rows.Skip((int)room))
                {
                    errors.Add(new BulkRowError(over.Row, null, $"over the owner's code quota ({limits.Value.MaxCodes}, Owners:MaxCodes)."));
                }

                rows = rows.Take((int)room).ToList();
            }
        }

        if (atomic.Value && errors.Count > 0)
        {
            return Report(true, total, [], errors, committed: false, request, options.Value);
        }

        // Random codes are drawn now, apart from each other and from the file's slugs; the grain draws again on a collision.
        var used = new HashSet<string>(rows.Where(r => !r.RandomCode).Select(r => r.Code), StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows[i].RandomCode)
            {
                string code;
                do
                {
                    code = CodeGenerator.NewCode(options.Value.RandomCodeLength);
                }
                while (!used.Add(code));
                rows[i] = rows[i] with { Code = code };
            }
        }

        BulkCreateResult result;
        try
        {
            result = rows.Count == 0
                ? new BulkCreateResult([], [], Committed: true)
                : await cluster.GetGrain<ICodeBulkGrain>(0).Create(ownerId, new BulkCreateCommand(rows, atomic.Value));
        }
        catch (OwnerErasingException)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Owner being erased.",
                detail: "This owner is being erased: its keys are revoked and it can create no codes.");
        }

        var byRow = rows.ToDictionary(r => r.Row);
        foreach (var taken in result.TakenRows)
        {
            var row = byRow[taken];
            errors.Add(row.RandomCode
                ? new BulkRowError(taken, "slug", "could not draw a free random code; try again.")
                : new BulkRowError(taken, "slug", $"the code '{row.Code}' exists already (codes are unique whatever their case), or was another owner's."));
        }

        foreach (var created in result.Created)
        {
            lookup.MarkKnown(created.Code);
        }

        return Report(atomic.Value, total, result.Created, errors, result.Committed, request, options.Value);
    }

    private static IResult Report(
        bool atomic, int total, IReadOnlyList<BulkCreated> created, List<BulkRowError> errors, bool committed, HttpRequest request, GatewayOptions options)
    {
        errors.Sort((a, b) => a.Row.CompareTo(b.Row));
        var report = new BulkImportReport(
            atomic ? "atomic" : "best-effort",
            total,
            created.Count,
            errors.Select(e => e.Row).Distinct().Count(),
            committed,
            [.. created.OrderBy(c => c.Row).Select(c => new BulkCreatedCode(c.Row, c.Code, CodesApi.ShortUrl(c.Code, request, options)))],
            errors);
        if (!atomic || committed)
        {
            return TypedResults.Ok(report);
        }

        // Nothing was created: a problem (as every refusal of this API), carrying the report's fields.
        return TypedResults.Problem(
            statusCode: StatusCodes.Status422UnprocessableEntity,
            title: "No code created.",
            detail: $"{report.Refused} of {report.Rows} rows were refused (mode=atomic): nothing was created. The errors name each row and column.",
            extensions: new Dictionary<string, object?>
            {
                ["mode"] = report.Mode, ["rows"] = report.Rows, ["created"] = report.Created, ["refused"] = report.Refused,
                ["committed"] = report.Committed, ["codes"] = report.Codes, ["errors"] = report.Errors,
            });
    }

    private static IResult? CheckCsvContentType(HttpRequest request)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || !(type.MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase) || type.MediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase)))
        {
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported content type.",
                detail: "Send the file itself as the body, with Content-Type: text/csv.");
        }

        return type.Charset.HasValue && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            ? Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported character set.",
                detail: $"The file must be UTF-8, not {type.Charset}.")
            : null;
    }

    /// <summary>The body, or a 413 once it passes <paramref name="cap"/> bytes (read no further).</summary>
    private static async Task<(byte[]? Body, IResult? TooLarge)> ReadCappedAsync(HttpRequest request, int cap)
    {
        var tooLarge = Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large.",
            detail: $"This request's body may be at most {cap / 1024} KB.");
        if (request.ContentLength > cap)
        {
            return (null, tooLarge);
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = cap + 1L;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > cap)
            {
                return (null, tooLarge);
            }

            buffer.Write(chunk, 0, read);
        }

        return (buffer.ToArray(), null);
    }

    private static readonly Dictionary<string, string> Columns = new(StringComparer.OrdinalIgnoreCase)
    {
        ["target"] = "target", ["targetUrl"] = "target", ["slug"] = "slug", ["code"] = "slug",
        ["title"] = "title", ["tags"] = "tags", ["routing"] = "routing",
    };

    /// <summary>The rows that pass every check, the refusals of the others, or the 4xx for a file that cannot be read.</summary>
    private static (List<BulkNewCode> Rows, List<BulkRowError> Errors, IResult? BadFile) ParseRows(
        string text, long ownerId, CodesApi.CreateRules rules, JsonSerializerOptions json)
    {
        var rows = new List<BulkNewCode>();
        var errors = new List<BulkRowError>();
        var lineEnd = text.IndexOfAny(['\r', '\n']);
        var firstLine = lineEnd < 0 ? text : text[..lineEnd];
        var delimiter = !firstLine.Contains(',') && firstLine.Contains(';') ? ';' : ',';
        var slugs = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        string[]? header = null;
        var dataRows = 0;
        try
        {
            foreach (var record in CsvRecords.Read(text, delimiter))
            {
                if (header is null)
                {
                    var names = record.Fields.Select(f => f.Trim()).ToArray();
                    if (names.FirstOrDefault(n => !Columns.ContainsKey(n)) is { } unknown)
                    {
                        return (rows, errors, JsonBody.Invalid(
                            $"Unknown column '{Clip(unknown)}' in the header; the columns are target (required), slug, title, tags and routing.", "header"));
                    }

                    header = [.. names.Select(n => Columns[n])];
                    if (header.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1) is { } twice)
                    {
                        return (rows, errors, JsonBody.Invalid($"The column {twice.Key} appears twice in the header.", "header"));
                    }

                    if (!header.Contains("target"))
                    {
                        return (rows, errors, JsonBody.Invalid("The header must name a target column (and may name slug, title, tags, routing).", "header"));
                    }

                    continue;
                }

                if (record.Fields.All(string.IsNullOrWhiteSpace))
                {
                    continue; // a spreadsheet's empty row
                }

                if (++dataRows > MaxRows)
                {
                    return (rows, errors, Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too many rows.",
                        detail: $"A file may have at most {MaxRows:N0} rows of codes."));
                }

                if (record.Fields.Count != header.Length)
                {
                    errors.Add(new BulkRowError(record.Line, null, $"has {record.Fields.Count} fields where the header has {header.Length}."));
                    continue;
                }

                var (row, error) = ParseRow(record, header, ownerId, rules, json, slugs);
                if (error is not null)
                {
                    errors.Add(error);
                }
                else
                {
                    rows.Add(row!);
                }
            }
        }
        catch (FormatException ex)
        {
            return (rows, errors, JsonBody.Invalid($"The file is not valid CSV: {ex.Message}"));
        }

        return header is null
            ? (rows, errors, JsonBody.Invalid("The file is empty: it needs a header (target, slug, title, tags, routing) and rows.", "header"))
            : (rows, errors, null);
    }

    private static (BulkNewCode? Row, BulkRowError? Error) ParseRow(
        CsvRecords.Record record, string[] header, long ownerId, CodesApi.CreateRules rules, JsonSerializerOptions json, Dictionary<string, int> slugs)
    {
        string? Cell(string column)
        {
            var index = Array.IndexOf(header, column);
            return index < 0 || record.Fields[index].Trim() is not { Length: > 0 } value ? null : value;
        }

        RoutingRules? routing = null;
        if (Cell("routing") is { } routingJson)
        {
            try
            {
                routing = JsonSerializer.Deserialize<RoutingRules>(routingJson, json);
            }
            catch (JsonException ex)
            {
                var path = ex.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? "routing." + p[2..] : "routing";
                return (null, new BulkRowError(record.Line, path, ex.Message.Contains("could not be mapped", StringComparison.Ordinal)
                    ? $"{path} is not a known field."
                    : "routing must be a JSON object like the routing of POST /api/codes."));
            }

            if (routing is null)
            {
                return (null, new BulkRowError(record.Line, "routing", "routing must be a JSON object like the routing of POST /api/codes."));
            }
        }

        var tags = Cell("tags")?.Split(['|', ',', ';'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var slug = Cell("slug");
        var body = new CreateCodeRequest(Cell("target"), slug, Cell("title"), tags, Routing: routing);
        if (CodesApi.CheckCreate(body, ownerId, rules, out var command, out _) is { } problem)
        {
            var field = problem.Field switch { "targetUrl" => "target", "code" => "slug", var other => other };
            var message = problem.Message.StartsWith("targetUrl", StringComparison.Ordinal) ? "target" + problem.Message["targetUrl".Length..]
                : problem.Message.StartsWith("code ", StringComparison.Ordinal) ? "slug " + problem.Message["code ".Length..]
                : problem.Message;
            return (null, new BulkRowError(record.Line, field, message));
        }

        if (slug is not null && !slugs.TryAdd(slug, record.Line))
        {
            return (null, new BulkRowError(record.Line, "slug", $"the slug '{slug}' is already on row {slugs[slug]}."));
        }

        return (new BulkNewCode(record.Line, slug ?? string.Empty, slug is null, command!), null);
    }

    private static string Clip(string text) => text.Length > 40 ? text[..40] + "…" : text;

    // ---- Bulk edit ----

    public static async Task<IResult> EditAsync(HttpRequest request, IClusterClient cluster, IOptions<GatewayOptions> options)
    {
        var (body, error) = await ReadSelectionBodyAsync<BulkEditRequest>(request);
        if (body is null)
        {
            return error!;
        }

        if (CheckFilter(body.Tag, body.Codes, out var filter) is { } filterProblem)
        {
            return filterProblem.ToResult();
        }

        if (body.SetTags is not null && (body.AddTags is not null || body.RemoveTags is not null))
        {
            return JsonBody.Invalid("setTags replaces the tags: send it alone, or addTags and removeTags.", "setTags");
        }

        string? target = null;
        if (body.TargetUrl is not null)
        {
            if (TargetUrl.Validate(body.TargetUrl, CodesApi.OwnHosts(request, options.Value)) is { } urlError)
            {
                return JsonBody.Invalid(urlError, "targetUrl");
            }

            target = TargetUrl.Normalize(body.TargetUrl);
        }

        var setProblem = Named(CodeFieldRules.CheckTags(body.SetTags, out var setTags), "setTags");
        var addProblem = Named(CodeFieldRules.CheckTags(body.AddTags, out var addTags), "addTags");
        var removeProblem = Named(CodeFieldRules.CheckTags(body.RemoveTags, out var removeTags), "removeTags");
        if ((setProblem ?? addProblem ?? removeProblem) is { } tagProblem)
        {
            return tagProblem.ToResult();
        }

        if (setTags is null && addTags is null && removeTags is null && target is null && body.Enabled is null)
        {
            return JsonBody.Invalid("Nothing to change: send setTags, addTags, removeTags, targetUrl or enabled.");
        }

        var ownerId = request.HttpContext.User.OwnerId();
        var result = await cluster.GetGrain<ICodeBulkGrain>(0).Edit(
            ownerId, new BulkEditCommand(filter!, setTags, addTags, removeTags, target, body.Enabled));
        return Results.Ok(new BulkEditReport(
            result.Matched, result.Updated, result.Matched - result.Updated - result.TooManyTags.Count, result.TooManyTags, result.NotFound));
    }

    private static FieldProblem? Named(FieldProblem? problem, string field) => problem is null ? null : new FieldProblem(field, problem.Message);

    /// <summary>Exactly one of a tag and a list of 1–10,000 well-formed codes.</summary>
    private static FieldProblem? CheckFilter(string? tag, IReadOnlyList<string?>? codes, out BulkFilter? filter)
    {
        filter = null;
        if ((tag is null) == (codes is null))
        {
            return new FieldProblem("tag", "Select the codes with either tag or codes (a list), not both.");
        }

        if (tag is not null)
        {
            if (tag.Length is 0 or > CodeFieldRules.MaxTagLength || CodeFieldRules.HasControlCharacters(tag))
            {
                return new FieldProblem("tag", $"tag must be 1-{CodeFieldRules.MaxTagLength} characters, without control characters.");
            }

            filter = new BulkFilter(tag.Trim(), null);
            return null;
        }

        if (codes!.Count is 0 or > MaxSelection)
        {
            return new FieldProblem("codes", $"codes must list 1 to {MaxSelection:N0} codes.");
        }

        foreach (var code in codes)
        {
            if (code is null || !CodeFormat.IsWellFormed(code))
            {
                return new FieldProblem("codes", $"'{Clip(code ?? "null")}' is not a code.");
            }
        }

        filter = new BulkFilter(null, [.. codes!.Select(c => c!)]);
        return null;
    }

    private static async Task<(T? Body, IResult? Error)> ReadSelectionBodyAsync<T>(HttpRequest request)
        where T : class
    {
        if (request.ContentLength > MaxSelectionBodyBytes)
        {
            return (null, Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large.",
                detail: $"This request's body may be at most {MaxSelectionBodyBytes / 1024} KB."));
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxSelectionBodyBytes;
        }

        return await JsonBody.ReadAsync<T>(request);
    }

    // ---- ZIP of QR images ----

    public static async Task<IResult> ZipAsync(
        HttpRequest request, BulkZipQuery query, BulkSelectionRequest selection, IClusterClient cluster, GatewayOptions options,
        QrImageLimits limits, QrRenderGate gate, ILoggerFactory logs)
    {
        var format = query.Format ?? "png";
        if (format is not ("png" or "svg"))
        {
            return JsonBody.Invalid("format must be png or svg.", "format");
        }

        var (imageOptions, imageErrors) = QrImageOptions.Parse(
            query.Size?.ToString(System.Globalization.CultureInfo.InvariantCulture), query.Margin?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            query.Ecc, query.Fg, query.Bg, limits.MaxSize);
        if (imageOptions is null)
        {
            return Results.ValidationProblem(imageErrors, title: "Invalid image parameters.");
        }

        if (CheckFilter(selection.Tag, selection.Codes, out var filter) is { } filterProblem)
        {
            return filterProblem.ToResult();
        }

        var ownerId = request.HttpContext.User.OwnerId();
        var found = await cluster.GetGrain<ICodeBulkGrain>(0).Find(ownerId, filter!, MaxSelection + 1);
        if (found.NotFound.Count > 0)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Codes not found.",
                detail: $"No codes {string.Join(", ", found.NotFound.Take(10).Select(c => $"'{c}'"))}{(found.NotFound.Count > 10 ? ", …" : "")}.");
        }

        if (found.Codes.Count == 0)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No codes.", detail: $"No code carries the tag '{Clip(filter!.Tag!)}'.");
        }

        if (found.Codes.Count > MaxSelection)
        {
            return JsonBody.Invalid($"A ZIP holds at most {MaxSelection:N0} codes; this tag has more.", "tag");
        }

        var urls = found.Codes.Select(c => (Code: c, Url: CodesApi.ShortUrl(c, request, options))).ToList();
        if (format == "png" && urls.Max(u => QrRenderer.MinimumPngSize(u.Url, imageOptions)) is var minimum && imageOptions.Size < minimum)
        {
            return Results.ValidationProblem(
                new Dictionary<string, string[]> { ["size"] = [$"size must be at least {minimum} pixels for these codes at margin {imageOptions.Margin}."] },
                title: "Invalid image parameters.");
        }

        var (archive, refusal) = gate.EnterArchive(ownerId, request.HttpContext.Response);
        if (archive is null)
        {
            return refusal!;
        }

        var logger = logs.CreateLogger(typeof(BulkApi));
        var name = SafeFileName(filter!.Tag ?? "qr-codes") + $"-{format}.zip";
        request.HttpContext.Response.Headers.CacheControl = "private, no-store";
        return Results.Stream(async body =>
        {
            using (archive)
            {
                await WriteZipAsync(body, urls, format, imageOptions, gate, request.HttpContext.RequestAborted);
            }

            logger.LogInformation("ZIP of {Count} {Format} QR images for owner {Owner}", urls.Count, format, ownerId);
        }, "application/zip", name);
    }

    /// <summary>
    /// Writes the archive entry by entry: ZipArchive writes synchronously into a small buffer, which goes to the response
    /// asynchronously after each entry, so memory holds one image (and at the end the central directory), never the archive.
    /// </summary>
    private static async Task WriteZipAsync(
        Stream response, IReadOnlyList<(string Code, string Url)> codes, string format, QrImageOptions imageOptions, QrRenderGate gate,
        CancellationToken cancellationToken)
    {
        var buffer = new EntryBuffer();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (code, url) in codes)
            {
                byte[] image;
                using (await gate.RenderSlotAsync(cancellationToken))
                {
                    image = format == "png"
                        ? QrRenderer.Png(url, imageOptions).ToArray()
                        : Encoding.UTF8.GetBytes(QrRenderer.Svg(url, imageOptions));
                }

                var file = SafeFileName(code);
                for (var n = 2; !names.Add(file); n++)
                {
                    file = $"{SafeFileName(code)}-{n}";
                }

                // PNG is compressed already; SVG text shrinks several times.
                var entry = zip.CreateEntry($"{file}.{format}", format == "png" ? CompressionLevel.NoCompression : CompressionLevel.Fastest);
                using (var stream = entry.Open())
                {
                    stream.Write(image);
                }

                await buffer.DrainToAsync(response, cancellationToken);
            }
        }

        await buffer.DrainToAsync(response, cancellationToken);
    }

    /// <summary>Letters, digits, '-' and '_' only (codes are made of them already; tags may have spaces and dots), at most 64.</summary>
    private static string SafeFileName(string name)
    {
        var safe = new string([.. name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]).Trim('_');
        return safe.Length == 0 ? "codes" : safe.Length > 64 ? safe[..64] : safe;
    }

    /// <summary>A write-only, unseekable stream that keeps what is written until <see cref="DrainToAsync"/> sends it on.</summary>
    private sealed class EntryBuffer : Stream
    {
        private readonly MemoryStream _pending = new();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => _pending.Write(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => _pending.Write(buffer);

        public override void Flush()
        {
        }

        public async Task DrainToAsync(Stream target, CancellationToken cancellationToken)
        {
            if (_pending.Length > 0)
            {
                await target.WriteAsync(_pending.GetBuffer().AsMemory(0, (int)_pending.Length), cancellationToken);
                _pending.SetLength(0);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>The query of <c>POST /api/bulk/codes</c>.</summary>
public sealed record BulkImportQuery
{
    [Description("atomic (default): nothing is created if any row is refused; best-effort: the valid rows are created.")]
    [FromQuery(Name = "mode")]
    public string? Mode { get; init; }
}

/// <summary>The outcome of a CSV import.</summary>
/// <param name="Rows">Rows of codes in the file (the header and empty rows not counted).</param>
/// <param name="Refused">Rows not created; each has at least one entry in <paramref name="Errors"/>.</param>
/// <param name="Committed">False when an atomic import created nothing because of the refusals.</param>
public sealed record BulkImportReport(
    string Mode, int Rows, int Created, int Refused, bool Committed, IReadOnlyList<BulkCreatedCode> Codes, IReadOnlyList<BulkRowError> Errors);

/// <param name="Row">The line of the file where the row starts (the header is line 1).</param>
public sealed record BulkCreatedCode(int Row, string Code, string ShortUrl);

/// <param name="Row">The line of the file where the row starts (the header is line 1).</param>
/// <param name="Field">The column (<c>target</c>, <c>slug</c>, <c>title</c>, <c>tags</c>, <c>routing…</c>), or null for the whole row.</param>
public sealed record BulkRowError(int Row, string? Field, string Message);

/// <summary>Body of <c>POST /api/bulk/edit</c>: the codes (a tag or a list) and the change; absent fields stay as they are.</summary>
/// <param name="SetTags">Replaces the tags; or use <paramref name="AddTags"/> and <paramref name="RemoveTags"/> (ignoring case).</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BulkEditRequest(
    string? Tag = null,
    IReadOnlyList<string?>? Codes = null,
    IReadOnlyList<string?>? SetTags = null,
    IReadOnlyList<string?>? AddTags = null,
    IReadOnlyList<string?>? RemoveTags = null,
    string? TargetUrl = null,
    bool? Enabled = null);

/// <param name="Matched">Codes selected.</param>
/// <param name="Updated">Codes changed; their next scan on any gateway sees it.</param>
/// <param name="Unchanged">Codes that already were as asked.</param>
/// <param name="TooManyTags">Codes left as they were: they would have carried more than 20 tags.</param>
/// <param name="NotFound">Listed codes that are not the caller's.</param>
public sealed record BulkEditReport(int Matched, int Updated, int Unchanged, IReadOnlyList<string> TooManyTags, IReadOnlyList<string> NotFound);

/// <summary>Which codes: those with a tag, or a list of codes.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BulkSelectionRequest(string? Tag = null, IReadOnlyList<string?>? Codes = null);

/// <summary>The query of the ZIP of QR images.</summary>
public sealed record BulkZipQuery
{
    [Description("png (default) or svg.")]
    [FromQuery(Name = "format")]
    public string? Format { get; init; }

    [Description("The codes with this tag (GET only; POST names it in the body).")]
    [FromQuery(Name = "tag")]

    public string? Tag { get; init; }

    [Description("Comma-separated codes (GET only).")]
    [FromQuery(Name = "codes")]

    public string? Codes { get; init; }

    [Description("Width and height in pixels (64-4096); default 512.")]
    [FromQuery(Name = "size")]

    public int? Size { get; init; }

    [Description("Quiet zone in modules (0-16); default 4.")]
    [FromQuery(Name = "margin")]

    public int? Margin { get; init; }

    [Description("Error correction: L, M, Q or H; default M.")]
    [FromQuery(Name = "ecc")]

    public string? Ecc { get; init; }

    [Description("Foreground colour, hex; default 000000.")]
    [FromQuery(Name = "fg")]

    public string? Fg { get; init; }

    [Description("Background colour, hex; default ffffff.")]
    [FromQuery(Name = "bg")]

    public string? Bg { get; init; }
}
