using System.Collections.Concurrent;
using System.Net;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// A bounded load generator for fault tests: a few workers scan the given codes round-robin over
/// loopback until stopped (or until a hard time limit), counting every answer by status.
/// </summary>
public sealed class ScanLoad
{
    private readonly ConcurrentDictionary<HttpStatusCode, int> _byStatus = new();
    private readonly ConcurrentDictionary<string, int> _redirectsByCode = new();
    private readonly ConcurrentDictionary<string, int> _failuresByCode = new();
    private readonly ConcurrentDictionary<HttpStatusCode, string> _firstAnswerByStatus = new();
    private readonly CancellationTokenSource _runaway = new(TimeSpan.FromMinutes(2)); // never runs away
    private volatile bool _stopping;
    private readonly Task _run;
    private int _redirects;
    private long _firstFailureAt;
    private long _lastFailureAt;

    public ScanLoad(HttpClient http, IReadOnlyList<string> codes, int workers = 16)
    {
        _run = Task.WhenAll(Enumerable.Range(0, workers).Select(w => RunWorkerAsync(http, codes, w)));
    }

    public int Redirects => Volatile.Read(ref _redirects);

    public IReadOnlyDictionary<HttpStatusCode, int> ByStatus => _byStatus;

    public IReadOnlyDictionary<string, int> RedirectsByCode => _redirectsByCode;

    /// <summary>Answers other than a 302 (and requests with no answer), by code.</summary>
    public IReadOnlyDictionary<string, int> FailuresByCode => _failuresByCode;

    /// <summary>When the first and the last answer other than a 302 came (UTC), if any did.</summary>
    public (DateTime? First, DateTime? Last) Failures
    {
        get
        {
            var first = Interlocked.Read(ref _firstFailureAt);
            var last = Interlocked.Read(ref _lastFailureAt);
            return (first == 0 ? null : new DateTime(first, DateTimeKind.Utc), last == 0 ? null : new DateTime(last, DateTimeKind.Utc));
        }
    }

    public async Task WaitForRedirectsAsync(int atLeast)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Redirects < atLeast)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Only {Redirects} redirects; statuses: {Describe()}");
            }

            await Polling.Pause(20);
        }
    }

    /// <summary>Lets every worker finish the request it has in flight, so every answer is counted.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        await _run;
    }

    public string Describe() => string.Join(", ", _byStatus.Select(kv => $"{(int)kv.Key}: {kv.Value}"));

    /// <summary>The first answer seen for each status other than 302 and 503, headers and body: where it came from.</summary>
    public string DescribeUnexpected() => string.Join("\n", _firstAnswerByStatus.Select(kv => $"{(int)kv.Key}: {kv.Value}"));

    private async Task RunWorkerAsync(HttpClient http, IReadOnlyList<string> codes, int worker)
    {
        var i = worker;
        while (!_stopping && !_runaway.IsCancellationRequested)
        {
            var code = codes[i++ % codes.Count];
            HttpStatusCode status;
            try
            {
                using var response = await http.GetAsync($"/r/{code}", _runaway.Token);
                status = response.StatusCode;
                if (status is not HttpStatusCode.Found && !_firstAnswerByStatus.ContainsKey(status))
                {
                    _firstAnswerByStatus.TryAdd(status, $"{DateTime.UtcNow:HH:mm:ss.fff} /r/{code}\n{response.Headers}{response.Content.Headers}{await response.Content.ReadAsStringAsync()}");
                }
            }
            catch (OperationCanceledException) when (_runaway.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                status = 0; // refused, reset or timed out: no answer, so no acknowledged scan
                await Polling.Pause(10); // a stopped server refuses at once: do not spin
            }

            _byStatus.AddOrUpdate(status, 1, (_, n) => n + 1);
            if (status == HttpStatusCode.Found)
            {
                Interlocked.Increment(ref _redirects);
                _redirectsByCode.AddOrUpdate(code, 1, (_, n) => n + 1);
            }
            else
            {
                _failuresByCode.AddOrUpdate(code, 1, (_, n) => n + 1);
                var now = DateTime.UtcNow.Ticks;
                Interlocked.CompareExchange(ref _firstFailureAt, now, 0);
                Interlocked.Exchange(ref _lastFailureAt, now);
            }
        }
    }
}
