using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using InvexQr.Data;
using InvexQr.Grains.Webhooks;
using Microsoft.Extensions.Options;

namespace InvexQr.Silo.Hosting.Webhooks;

/// <summary>
/// Posts the webhook outbox to the endpoints, on every silo: a few workers each claim one due endpoint at a time
/// (<see cref="WebhookOutbox"/>: one delivery per endpoint across the cluster, in outbox order), send up to
/// <see cref="WebhookOptions.BatchSize"/> events signed with the endpoint's secret, and either remove them (2xx) or
/// schedule a retry with exponential backoff, disabling an endpoint that has failed long enough. Nothing is held in
/// memory between attempts: a receiver that is down for a day costs rows in PostgreSQL, not RAM. While the silo is
/// saturated (<see cref="SiloLoad"/>) and taking scans, each worker rests after a delivery so as to work only
/// <see cref="WebhookOptions.SaturatedShare"/> of its time: scans go first, the events wait in the outbox.
/// </summary>
public sealed class WebhookDelivery(
    WebhookOutbox outbox, IOptions<WebhookOptions> options, TimeProvider clock, ILogger<WebhookDelivery> logger,
    SiloLoad? load = null, ScanSink? scans = null)
    : BackgroundService
{
    private readonly WebhookOptions _options = options.Value;
    private HttpClient? _http;
    private long _delivered;
    private long _failed;
    private long _sweeps;
    private long _restedTicks;

    /// <summary>Events delivered by this silo since start (a receiver's 2xx).</summary>
    public long DeliveredEvents => Interlocked.Read(ref _delivered);

    /// <summary>Failed attempts by this silo since start.</summary>
    public long FailedAttempts => Interlocked.Read(ref _failed);

    /// <summary>code.gone sweeps this silo has completed since start.</summary>
    public long GoneSweeps => Interlocked.Read(ref _sweeps);

    /// <summary>Time the workers rested to let scans go first (summed over workers) since start.</summary>
    public TimeSpan Rested => TimeSpan.FromTicks(Interlocked.Read(ref _restedTicks));

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _http = new HttpClient(WebhookTargets.CreateHandler(_options.AllowPrivateAddresses))
        {
            Timeout = TimeSpan.FromSeconds(_options.RequestTimeoutSeconds),
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("InvexQR-Webhooks", "1"));
        var workers = Enumerable.Range(0, Math.Max(0, _options.Workers)).Select(_ => Task.Run(() => WorkAsync(stoppingToken), stoppingToken));
        return Task.WhenAll(workers.Append(Task.Run(() => SweepGoneAsync(stoppingToken), stoppingToken)));
    }

    public override void Dispose()
    {
        _http?.Dispose();
        base.Dispose();
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        var idle = TimeSpan.FromMilliseconds(Math.Clamp(_options.BatchWindowMs / 4, 20, 250));
        var body = new ArrayBufferWriter<byte>();
        var scansSeen = scans?.Accepted ?? 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            bool delivered;
            var wait = idle;
            var started = Stopwatch.GetTimestamp();
            try
            {
                delivered = await DeliverOneAsync(body, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database is away or refused: nothing was lost (the events stay in the outbox); try again shortly.
                logger.LogWarning(ex, "Webhook delivery could not reach the outbox");
                delivered = false;
                wait = TimeSpan.FromSeconds(1);
            }

            // Yield only to scans: pressure from the delivery's own work (a backlog drained after an outage) is no reason.
            var scansNow = scans?.Accepted ?? 0;
            var yieldToScans = load?.Saturated == true && scansNow != scansSeen;
            scansSeen = scansNow;
            var rest = delivered ? _options.RestAfter(Stopwatch.GetElapsedTime(started), yieldToScans) : wait;
            if (rest > TimeSpan.Zero)
            {
                if (delivered)
                {
                    Interlocked.Add(ref _restedTicks, rest.Ticks);
                }

                try
                {
                    await Task.Delay(rest, clock, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One batch to one endpoint; false when no endpoint had a batch due.</summary>
    private async Task<bool> DeliverOneAsync(ArrayBufferWriter<byte> body, CancellationToken stoppingToken)
    {
        await using var claim = await outbox.ClaimAsync(
            Math.Max(1, _options.BatchSize), TimeSpan.FromMilliseconds(_options.BatchWindowMs), stoppingToken);
        if (claim is null || claim.Events.Count == 0)
        {
            return false;
        }

        if (claim.Deliverable.Count == 0)
        {
            await claim.DiscardAsync(CancellationToken.None); // every scan of the batch was erased after it was queued
            return true;
        }

        var deliveryId = Guid.CreateVersion7();
        Serialize(deliveryId, claim, body);
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, claim.Url) { Content = new ReadOnlyMemoryContent(body.WrittenMemory) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.HeaderValue(claim.Secret, timestamp, body.WrittenSpan));
        request.Headers.TryAddWithoutValidation(WebhookSignature.DeliveryHeader, deliveryId.ToString());

        var started = Stopwatch.GetTimestamp();
        int? status = null;
        string? error = null;
        try
        {
            using var response = await _http!.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stoppingToken);
            status = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                error = status is >= 300 and < 400 ? $"HTTP {status} (redirects are not followed)" : $"HTTP {status}";
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw; // stopping: the claim rolls back, the batch goes out again from whichever silo claims it next
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or WebhookAddressRefusedException)
        {
            error = ex switch
            {
                TaskCanceledException => $"no answer within {_options.RequestTimeoutSeconds} s",
                _ when Find<WebhookAddressRefusedException>(ex) is { } refused => refused.Message,
                _ => ex.Message,
            };
        }

        var latency = (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (error is null)
        {
            await claim.SucceededAsync(deliveryId, status!.Value, latency, _options.DeliveriesKept, CancellationToken.None);
            Interlocked.Add(ref _delivered, claim.Deliverable.Count);
            return true;
        }

        var failures = claim.ConsecutiveFailures + 1;
        var now = clock.GetUtcNow();
        var since = claim.FailingSince ?? now;
        var disable = failures >= _options.DisableAfterFailures && now - since >= _options.DisableAfter
            ? $"disabled after {failures} failed deliveries in a row since {since:yyyy-MM-dd HH:mm:ss}Z; last: {error}"
            : null;
        await claim.FailedAsync(deliveryId, status, latency, error, RetryDelay(claim.ConsecutiveFailures), disable, _options.DeliveriesKept, CancellationToken.None);
        Interlocked.Increment(ref _failed);
        if (disable is not null)
        {
            logger.LogWarning("Webhook endpoint {Endpoint} {Reason}", claim.EndpointId, disable);
        }

        return true;
    }

    /// <summary>Retry n (after n failures before it) waits base × 2^n, capped, plus up to 20 % so that endpoints do not retry in lockstep.</summary>
    public TimeSpan RetryDelay(int previousFailures)
    {
        var seconds = Math.Min(_options.RetryBaseSeconds * Math.Pow(2, Math.Min(previousFailures, 30)), _options.RetryMaxSeconds);
        return TimeSpan.FromSeconds(seconds * (1 + (Random.Shared.NextDouble() * 0.2)));
    }

    private static T? Find<T>(Exception? ex)
        where T : Exception
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is T found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>
    /// Writes the request body into <paramref name="body"/>, the worker's buffer reused from batch to batch: a batch of
    /// 500 scans is ~170 KB, which would otherwise be a large-object allocation or three.
    /// </summary>
    private static void Serialize(Guid deliveryId, WebhookClaim claim, ArrayBufferWriter<byte> body)
    {
        body.ResetWrittenCount();
        using var json = new Utf8JsonWriter(body);
        json.WriteStartObject();
        json.WriteString("deliveryId", deliveryId);
        json.WriteNumber("endpointId", claim.EndpointId);
        json.WriteStartArray("events");
        foreach (var e in claim.Deliverable)
        {
            json.WriteStartObject();
            json.WriteString("id", e.EventId);
            json.WriteString("type", e.Type);
            json.WriteString("occurredAt", e.OccurredAt.ToUniversalTime());
            json.WritePropertyName("data");
            if (!e.ScanData.IsEmpty)
            {
                json.WriteRawValue(e.ScanData.Span, skipInputValidation: true);
            }
            else if (e.Scan is { } scan)
            {
                scan.WriteTo(json);
            }
            else
            {
                json.WriteRawValue(e.PayloadJson!, skipInputValidation: true);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private async Task SweepGoneAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(0.1, _options.GoneSweepSeconds));
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, clock, stoppingToken);
                var queued = await outbox.SweepGoneAsync(stoppingToken);
                Interlocked.Increment(ref _sweeps);
                if (queued > 0)
                {
                    logger.LogInformation("Queued {Count} code.gone webhook events", queued);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "The code.gone sweep failed; next try in {Interval}", interval);
            }
        }
    }
}
