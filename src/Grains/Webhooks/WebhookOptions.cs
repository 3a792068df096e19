namespace InvexQr.Grains.Webhooks;

/// <summary>The <c>Webhooks</c> configuration section (env <c>Webhooks__BatchSize</c>, ...), read by silos and gateways.</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>
    /// Events per request at most (N). Each request costs a claim, a post and a commit whatever it carries: at 500 a
    /// silo delivers ~1.7 times the events per second of 100 for ~45 % less CPU per event (bench/webhook-delivery.sh),
    /// in bodies of at most ~170 KB.
    /// </summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>An endpoint with fewer than <see cref="BatchSize"/> events waiting is sent them once the oldest has waited this long (T).</summary>
    public int BatchWindowMs { get; set; } = 1000;

    /// <summary>Endpoints one silo delivers to at the same time; 0: this silo delivers nothing.</summary>
    public int Workers { get; set; } = 2;

    /// <summary>
    /// The share of its time a delivery worker may work while the silo's cores are saturated (tasks waiting for a core)
    /// and it takes scans: after a delivery that took t it rests t × (1 / share − 1), at most <see cref="MaxRestMs"/>.
    /// Scans go first; the events wait in the outbox (PostgreSQL, not memory) and go out at full speed once a core is
    /// free. 1: delivery never yields.
    /// </summary>
    public double SaturatedShare { get; set; } = 0.1;

    /// <summary>The longest rest after one delivery while the silo is saturated.</summary>
    public int MaxRestMs { get; set; } = 2000;

    /// <summary>A worker's rest after a delivery that took <paramref name="took"/>: none unless it is to yield to scans.</summary>
    public TimeSpan RestAfter(TimeSpan took, bool saturated)
    {
        if (!saturated || SaturatedShare >= 1)
        {
            return TimeSpan.Zero;
        }

        var rest = took * ((1 / SaturatedShare) - 1);
        var max = TimeSpan.FromMilliseconds(MaxRestMs);
        return rest < max ? rest : max;
    }

    /// <summary>How long a receiver may take to answer a delivery.</summary>
    public int RequestTimeoutSeconds { get; set; } = 10;

    /// <summary>Retry n waits RetryBaseSeconds × 2^(n-1), at most <see cref="RetryMaxSeconds"/> (plus up to 20 % jitter).</summary>
    public double RetryBaseSeconds { get; set; } = 2;

    public double RetryMaxSeconds { get; set; } = 3600;

    /// <summary>An endpoint is disabled once it has failed this many times in a row...</summary>
    public int DisableAfterFailures { get; set; } = 20;

    /// <summary>...and has been failing for at least this long (so every event is retried for at least as long).</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(3);

    /// <summary>Deliveries kept per endpoint for the owner to inspect and replay.</summary>
    public int DeliveriesKept { get; set; } = 100;

    /// <summary>How often a silo looks for codes that expired or ran out of scans (code.gone).</summary>
    public double GoneSweepSeconds { get; set; } = 10;

    /// <summary>
    /// Lets webhook URLs reach loopback, link-local and private addresses (off: refused at registration and at delivery).
    /// Only for deployments whose receivers live on the internal network, and for tests.
    /// </summary>
    public bool AllowPrivateAddresses { get; set; }

    /// <summary>Endpoints per owner at most.</summary>
    public int MaxEndpointsPerOwner { get; set; } = 20;
}
