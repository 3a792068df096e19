using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InvexQr.Gateway.Auth;
using InvexQr.Gateway.QrImages;
using InvexQr.Gateway.Redirects;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace InvexQr.Gateway.Api;

/// <summary>
/// <c>GET</c>/<c>HEAD /api/codes/{code}/qr.png</c>, <c>qr.svg</c> and <c>qr.txt</c> (for a terminal): the code's public
/// short URL as a QR image of exactly <c>size</c> pixels (default 512 for PNG and SVG alike). Images carry an ETag
/// (<c>If-None-Match</c> answers 304 without drawing); drawing is bounded per owner and per gateway (<see cref="QrRenderGate"/>).
/// </summary>
public static class QrImagesApi
{
    // Part of every ETag: bump it when the drawing changes, so caches do not keep the old image.
    private const string RendererVersion = "2";

    public static IEndpointRouteBuilder MapQrImagesApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/codes").RequireAuthorization().WithTags("QR images")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        foreach (var (format, contentType, summary) in new[]
        {
            ("png", "image/png", "The code as a PNG QR image, exactly size × size pixels."),
            ("svg", "image/svg+xml", "The code as an SVG QR image, size × size pixels."),
            ("txt", "text/plain", "The code as text for a terminal (Unicode half blocks; margin and ecc apply, size and colours do not)."),
        })
        {
            Task<Results<FileContentHttpResult, StatusCodeHttpResult, ProblemHttpResult>> Handler(string code, [AsParameters] QrImageQuery query, HttpRequest request, IClusterClient cluster, CodeLookup lookup,
                IOptions<GatewayOptions> options, IOptions<QrImageLimits> limits, QrRenderGate gate) =>
                RenderAsync(code, format, query, request, cluster, lookup, options.Value, limits.Value, gate);

            // The body's schema (a binary string) is added by ApiDocsSetup for every non-JSON content type.
            api.MapGet($"/{{code}}/qr.{format}", Handler).WithName($"GetQr{char.ToUpperInvariant(format[0])}{format[1..]}").WithSummary(summary)
                .Produces(StatusCodes.Status200OK, contentType: contentType).Produces(StatusCodes.Status304NotModified);
            // HEAD answers what GET would (status, type, length, ETag); left out of the document so clients get one operation.
            api.MapMethods($"/{{code}}/qr.{format}", [HttpMethods.Head], Handler).ExcludeFromDescription();
        }

        return endpoints;
    }

    public static async Task<Results<FileContentHttpResult, StatusCodeHttpResult, ProblemHttpResult>> RenderAsync(
        string code, string format, QrImageQuery query, HttpRequest request, IClusterClient cluster, CodeLookup lookup,
        GatewayOptions options, QrImageLimits limits, QrRenderGate gate)
    {
        var (imageOptions, errors) = QrImageOptions.Parse(
            query.Size?.ToString(CultureInfo.InvariantCulture), query.Margin?.ToString(CultureInfo.InvariantCulture),
            query.Ecc, query.Fg, query.Bg, limits.MaxSize);
        if (imageOptions is null)
        {
            return JsonBody.Invalid(errors, "Invalid image parameters.");
        }

        var ownerId = request.HttpContext.User.OwnerId();
        var details = await CodesApi.FindAsync(code, ownerId, cluster, lookup);
        if (details is null)
        {
            return CodesApi.NotFound(code);
        }

        var shortUrl = CodesApi.ShortUrl(details.Code, request, options);
        var download = query.Download == true ? $"{details.Code}.{format}" : null;
        if (format == "png" && QrRenderer.MinimumPngSize(shortUrl, imageOptions) is var minimum && imageOptions.Size < minimum)
        {
            return JsonBody.Invalid(
                new Dictionary<string, string[]> { ["size"] = [$"size must be at least {minimum} pixels for this code at margin {imageOptions.Margin}."] },
                "Invalid image parameters.");
        }

        // The image depends on nothing else, so equal tags mean equal bytes.
        var etag = new EntityTagHeaderValue($"\"{Tag(format, shortUrl, imageOptions, download)}\"");
        request.HttpContext.Response.Headers.CacheControl = "private, no-cache";
        if (request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } ifNoneMatch
            && ifNoneMatch.Any(candidate => candidate.Equals(EntityTagHeaderValue.Any) || candidate.Compare(etag, useStrongComparison: false)))
        {
            request.HttpContext.Response.Headers.ETag = etag.ToString();
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        var (lease, refusal) = await gate.EnterAsync(ownerId, request.HttpContext.Response, request.HttpContext.RequestAborted);
        if (lease is null)
        {
            return refusal!;
        }

        using (lease)
        {
            return format switch
            {
                "png" => TypedResults.Bytes(QrRenderer.Png(shortUrl, imageOptions), "image/png", download, entityTag: etag),
                "svg" => TypedResults.Bytes(Encoding.UTF8.GetBytes(QrRenderer.Svg(shortUrl, imageOptions)), "image/svg+xml", download, entityTag: etag),
                _ => TypedResults.Bytes(Encoding.UTF8.GetBytes(QrRenderer.Text(shortUrl, imageOptions)), "text/plain; charset=utf-8", download, entityTag: etag),
            };
        }
    }

    private static string Tag(string format, string shortUrl, QrImageOptions o, string? download)
    {
        var key = $"{RendererVersion}|{format}|{shortUrl}|{o.Size}|{o.Margin}|{o.ErrorCorrection}|{o.Foreground.Hex}|{o.Background.Hex}|{download}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 16));
    }
}

/// <summary>The query of a QR image request; every field is optional.</summary>
public sealed record QrImageQuery
{
    /// <summary>Width and height in pixels (64–4096, or the gateway's <c>QrImages:MaxSize</c>); default 512.</summary>
    [FromQuery(Name = "size")]
    [Range(QrImageOptions.MinSize, QrImageOptions.MaxSize)]
    [Description("Width and height in pixels (64-4096, or up to the gateway's QrImages:MaxSize); default 512.")]
    public int? Size { get; init; }

    [FromQuery(Name = "margin")]
    [Range(0, QrImageOptions.MaxMargin)]
    [Description("Quiet zone in modules (0-16); default 4.")]
    public int? Margin { get; init; }

    [FromQuery(Name = "ecc")]
    [AllowedValues("L", "M", "Q", "H")]
    [Description("Error correction: L, M, Q or H (7, 15, 25, 30 % recoverable; lower case accepted too); default M.")]
    public string? Ecc { get; init; }

    [FromQuery(Name = "fg")]
    [RegularExpression("^#?[0-9A-Fa-f]{6}$")]
    [Description("Foreground colour, hex (000000 or #1a2b3c); default 000000.")]
    public string? Fg { get; init; }

    [FromQuery(Name = "bg")]
    [RegularExpression("^#?[0-9A-Fa-f]{6}$")]
    [Description("Background colour, hex; default ffffff. fg and bg must contrast at least 3:1.")]
    public string? Bg { get; init; }

    [FromQuery(Name = "download")]
    [Description("true: sent as an attachment named after the code and the format (ABC123.png).")]
    public bool? Download { get; init; }
}
