using System.Diagnostics;
using System.Net;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// What a load balancer in front of several gateways does, for a load client: requests go round-robin to the gateways
/// currently in the pool (the endpoints of a Kubernetes Service), at a steady rate, and a request whose connection
/// could not be made (nothing was sent) is tried on the next gateway. Records the longest time without a 302, over
/// all codes and per code, so a test can state how long redirects stopped while the cluster changed.
/// </summary>
public sealed class GatewayPool : DelegatingHandler
{
    private readonly Lock _gate = new();
    private readonly List<Uri> _gateways;
    private readonly long _interval;
    private readonly Dictionary<string, long> _lastRedirectByCode = [];
    private long _next;
    private int _turn;
    private long _lastRedirect;
    private long _worstGap;
    private long _worstCodeGap;
    private string? _worstCode;
    private int _triedElsewhere;

    public GatewayPool(IEnumerable<Uri> gateways, int requestsPerSecond)
        : base(new SocketsHttpHandler { AllowAutoRedirect = false, MaxConnectionsPerServer = 64, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5) })
    {
        _gateways = [.. gateways];
        _interval = Stopwatch.Frequency / requestsPerSecond;
    }

    /// <summary>Requests whose connection to one gateway failed and that were sent to another.</summary>
    public int TriedElsewhere => Volatile.Read(ref _triedElsewhere);

    /// <summary>The longest time between two 302s, whatever their code.</summary>
    public TimeSpan WorstGap => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _worstGap));

    /// <summary>The longest time one code went without a 302 (it is asked for every few tens of milliseconds), and which.</summary>
    public (TimeSpan Gap, string? Code) WorstCodeGap
    {
        get
        {
            lock (_gate)
            {
                return (Stopwatch.GetElapsedTime(0, _worstCodeGap), _worstCode);
            }
        }
    }

    public void Add(Uri gateway)
    {
        lock (_gate)
        {
            _gateways.Add(gateway);
        }
    }

    /// <summary>Takes a gateway out of rotation (as when its pod starts terminating); requests in flight to it finish.</summary>
    public void Remove(Uri gateway)
    {
        lock (_gate)
        {
            _gateways.Remove(gateway);
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await PaceAsync(cancellationToken);
        var path = request.RequestUri!.IsAbsoluteUri ? request.RequestUri.PathAndQuery : request.RequestUri.OriginalString;
        for (var attempt = 0; ; attempt++)
        {
            Uri gateway;
            int count;
            lock (_gate)
            {
                count = _gateways.Count;
                gateway = _gateways[_turn++ % count];
            }

            request.RequestUri = new Uri(gateway, path);
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                if (response.StatusCode == HttpStatusCode.Found)
                {
                    Redirected(path);
                }

                return response;
            }
            catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.ConnectionError && attempt + 1 < count)
            {
                Interlocked.Increment(ref _triedElsewhere); // refused: the request never left, so it cannot count twice
            }
        }
    }

    private async Task PaceAsync(CancellationToken cancellationToken)
    {
        long slot, now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            slot = Math.Max(_next, now);
            _next = slot + _interval;
        }

        if (slot > now)
        {
            await Task.Delay(Stopwatch.GetElapsedTime(now, slot), cancellationToken);
        }
    }

    private void Redirected(string path)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (_lastRedirect != 0)
            {
                _worstGap = Math.Max(_worstGap, now - _lastRedirect);
            }

            _lastRedirect = now;
            if (_lastRedirectByCode.TryGetValue(path, out var last) && now - last > _worstCodeGap)
            {
                (_worstCodeGap, _worstCode) = (now - last, path);
            }

            _lastRedirectByCode[path] = now;
        }
    }
}
