using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// A webhook receiver on loopback Kestrel: records every request (headers, body, the status it answered) and answers
/// what <see cref="Respond"/> says for the n-th request (0-based), which may also hold the request.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _count;

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <param name="ArrivedAt">When the request arrived (before its body was read and before it was answered).</param>
    public sealed record Received(DateTimeOffset ArrivedAt, string? Signature, string? DeliveryId, byte[] Body, int Status)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement;

        public bool Succeeded => Status is >= 200 and < 300;

        public IEnumerable<JsonElement> Events => Json.GetProperty("events").EnumerateArray();
    }

    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>Each request's body by the order of arrival (0-based), answered or not.</summary>
    public ConcurrentDictionary<int, byte[]> BodiesByArrival { get; } = new();

    /// <summary>Requests that have arrived, including those not answered yet.</summary>
    public int Arrived => Volatile.Read(ref _count);

    public Func<int, Task<int>> Respond { get; set; } = _ => Task.FromResult(200);

    public string Url { get; private set; } = "";

    /// <summary>The events of every request answered 2xx, in the order they were answered.</summary>
    public List<JsonElement> Delivered => Requests.Where(r => r.Succeeded).SelectMany(r => r.Events).ToList();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", async (HttpContext context) =>
        {
            var arrivedAt = DateTimeOffset.UtcNow;
            var n = Interlocked.Increment(ref receiver._count) - 1;
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            receiver.BodiesByArrival[n] = buffer.ToArray();
            var status = await receiver.Respond(n);
            receiver.Requests.Enqueue(new Received(
                arrivedAt, context.Request.Headers["X-InvexQR-Signature"], context.Request.Headers["X-InvexQR-Delivery"], buffer.ToArray(), status));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        receiver.Url = app.Urls.Single().TrimEnd('/') + "/hook";
        return receiver;
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails naming <paramref name="what"/> after <paramref name="seconds"/>.</summary>
    public async Task WaitForAsync(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} not seen within {seconds} s; {Requests.Count} requests received, statuses " +
                    string.Join(",", Requests.Select(r => r.Status)));
            }

            await Polling.Pause(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
