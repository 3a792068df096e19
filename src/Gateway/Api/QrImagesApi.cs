using InvexQr.Gateway.Auth;
using InvexQr.Gateway.QrImages;
using InvexQr.Gateway.Redirects;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Api;

/// <summary>
/// <c>GET /api/codes/{code}/qr.png</c>, <c>qr.svg</c> and <c>qr.txt</c> (for a terminal): the code's public short URL as a QR image.
/// Query: <c>size</c> (pixels, 64–4096), <c>margin</c> (modules, 0–16), <c>ecc</c> (L/M/Q/H),
/// <c>fg</c>/<c>bg</c> (hex colours with at least 3:1 contrast), <c>download=true</c> for an attachment.
/// </summary>
public static class QrImagesApi
{
    public static IEndpointRouteBuilder MapQrImagesApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/codes").RequireAuthorization().WithTags("QR images")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{code}/qr.png", (string code, HttpRequest request, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options) =>
                RenderAsync(code, "png", request, cluster, lookup, options.Value))
            .WithSummary("The code as a PNG QR image.").Produces(StatusCodes.Status200OK, contentType: "image/png");
        api.MapGet("/{code}/qr.svg", (string code, HttpRequest request, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options) =>
                RenderAsync(code, "svg", request, cluster, lookup, options.Value))
            .WithSummary("The code as an SVG QR image.").Produces(StatusCodes.Status200OK, contentType: "image/svg+xml");
        api.MapGet("/{code}/qr.txt", (string code, HttpRequest request, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options) =>
                RenderAsync(code, "txt", request, cluster, lookup, options.Value))
            .WithSummary("The code as text for a terminal (Unicode half blocks; margin and ecc apply).")
            .Produces(StatusCodes.Status200OK, contentType: "text/plain");
        return endpoints;
    }

    public static async Task<IResult> RenderAsync(
        string code, string format, HttpRequest request, IClusterClient cluster, CodeLookup lookup, GatewayOptions options)
    {
        var query = request.Query;
        var (imageOptions, errors) = QrImageOptions.Parse(query["size"], query["margin"], query["ecc"], query["fg"], query["bg"]);
        if (imageOptions is null)
        {
            return Results.ValidationProblem(errors, title: "Invalid image parameters.");
        }

        var details = await CodesApi.FindAsync(code, request.HttpContext.User.OwnerId(), cluster, lookup);
        if (details is null)
        {
            return CodesApi.NotFound(code);
        }

        var shortUrl = CodesApi.ShortUrl(details.Code, request, options);
        var download = string.Equals(query["download"], "true", StringComparison.OrdinalIgnoreCase)
            ? $"{details.Code}.{format}" : null;
        return format switch
        {
            "png" => Results.File(QrRenderer.Png(shortUrl, imageOptions), "image/png", download),
            "svg" => Results.File(System.Text.Encoding.UTF8.GetBytes(QrRenderer.Svg(shortUrl, imageOptions)), "image/svg+xml", download),
            _ => Results.File(System.Text.Encoding.UTF8.GetBytes(QrRenderer.Text(shortUrl, imageOptions)), "text/plain; charset=utf-8", download),
        };
    }
}
