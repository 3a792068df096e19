using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>Small helpers over the gateway's HTTP API, used by the end-to-end tests.</summary>
public static class CodesClient
{
    public static async Task<JsonElement> CreateCodeAsync(this HttpClient http, string targetUrl, string? code = null)
    {
        using var response = await http.PostAsJsonAsync("/api/codes", new { targetUrl, code });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create answered {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Sends <paramref name="count"/> scans with at most <paramref name="parallelism"/> in flight; returns the status codes and Locations.</summary>
    public static async Task<List<(HttpStatusCode Status, string? Location)>> ScanManyAsync(
        this HttpClient http, string code, int count, int parallelism = 64, CancellationToken cancellationToken = default)
    {
        var results = new List<(HttpStatusCode, string?)>(count);
        var gate = new object();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            (HttpStatusCode, string?) result;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/r/{code}");
                request.Headers.UserAgent.ParseAdd("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1");
                using var response = await http.SendAsync(request, ct);
                result = (response.StatusCode, response.Headers.Location?.ToString());
            }
            catch (HttpRequestException)
            {
                result = (0, null); // connection refused / reset: no answer, so no acknowledged scan
            }

            lock (gate)
            {
                results.Add(result);
            }
        });
        return results;
    }

    /// <summary>One scan as if from <paramref name="clientIp"/> (the gateway must trust loopback as a proxy).</summary>
    public static async Task<HttpResponseMessage> ScanFromAsync(
        this HttpClient http, string code, string clientIp, string userAgent, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/r/{code}");
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", clientIp);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await http.SendAsync(request);
    }
}
