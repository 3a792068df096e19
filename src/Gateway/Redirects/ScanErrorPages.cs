using System.Net;
using System.Text;
using InvexQr.Abstractions;
using Microsoft.Net.Http.Headers;

namespace InvexQr.Gateway.Redirects;

/// <summary>
/// What a person who scanned a dead or unknown code sees. Phones' browsers ask for HTML, so they get a
/// small readable page; API clients and scripts get problem+json with the same status.
/// </summary>
public static class ScanErrorPages
{
    public static IResult NotFound(HttpContext http, string code) => Answer(
        http, StatusCodes.Status404NotFound, "Unknown QR code.", $"No QR code '{Shorten(code)}' exists.");

    public static IResult Gone(HttpContext http, string code, GoneReason? reason) => Answer(
        http,
        StatusCodes.Status410Gone,
        "This QR code is no longer active.",
        reason switch
        {
            GoneReason.Expired => $"The code '{code}' has expired.",
            GoneReason.Exhausted => $"The code '{code}' has reached its scan limit.",
            _ => $"The code '{code}' has been disabled by its owner.",
        });

    public static IResult TooManyScans(HttpContext http, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Answer(http, StatusCodes.Status429TooManyRequests, "Too many scans.", $"Please try again in {seconds} s.");
    }

    private static IResult Answer(HttpContext http, int status, string title, string detail)
    {
        if (!WantsHtml(http.Request))
        {
            return Results.Problem(statusCode: status, title: title, detail: detail);
        }

        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<title>").Append(WebUtility.HtmlEncode(title)).Append("</title>")
            .Append("<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#1a1a1a;background:#fff}")
            .Append("h1{font-size:1.4rem}p{color:#444}</style></head><body>")
            .Append("<h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1>")
            .Append("<p>").Append(WebUtility.HtmlEncode(detail)).Append("</p>")
            .Append("</body></html>")
            .ToString();
        // The page has no script and loads nothing: the strictest policy fits.
        http.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'";
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static bool WantsHtml(HttpRequest request) =>
        request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/html", StringComparison.OrdinalIgnoreCase));

    private static string Shorten(string code) => code.Length <= 80 ? code : code[..80];
}
