// The baseline of bench/run.sh: GET /r/{code} → 302 Location: https://example.org/{code}, Cache-Control: no-store.
// No cluster call, no database, no enrichment, no middleware: the cost of ASP.NET Core + Kestrel alone on this
// machine, with the same hosting defaults as the gateway (WebApplication.CreateBuilder, Kestrel's defaults).
using InvexQr.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
// The gateway's shipped logging defaults: no per-request lines.
builder.AddInvexQrLoggingDefaults();
var app = builder.Build();

app.MapGet("/r/{code}", (string code, HttpContext http) =>
{
    http.Response.Headers.CacheControl = "no-store";
    return Results.Redirect("https://example.org/" + code, permanent: false);
});
app.MapGet("/health/ready", () => Results.Text("Healthy"));

app.Run();
