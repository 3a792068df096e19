using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.QrImages;

/// <summary>The <c>QrImages</c> configuration section: how much QR rendering one gateway accepts.</summary>
public sealed class QrImageLimits
{
    public const string Section = "QrImages";

    /// <summary>Largest <c>size</c> accepted, in pixels (64–4096). A 4096-pixel PNG needs about 2.5 MB while drawn.</summary>
    public int MaxSize { get; set; } = QrImageOptions.MaxSize;

    /// <summary>Images drawn at once by this gateway; further requests wait in line (<see cref="QueueLength"/>).</summary>
    public int MaxConcurrentRenders { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>Requests waiting for a render slot; beyond them the answer is 503 with Retry-After.</summary>
    public int QueueLength { get; set; } = 64;

    /// <summary>Images one owner may have drawn per minute on this gateway (sustained); beyond it, 429.</summary>
    public int RendersPerOwnerPerMinute { get; set; } = 120;

    /// <summary>Images one owner may have drawn in a burst, before the per-minute rate applies.</summary>
    public int RenderBurstPerOwner { get; set; } = 30;
}

/// <summary>
/// Bounds QR rendering on one gateway: a token bucket per owner (429) and a cap on renders in flight with a
/// short queue (503). Memory for images is then at most the cap times one maximum-size render.
/// </summary>
public sealed class QrRenderGate : IDisposable
{
    private readonly ConcurrencyLimiter _renders;
    private readonly PartitionedRateLimiter<long> _owners;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, byte> _archives = new();

    public QrRenderGate(IOptions<QrImageLimits> options)
    {
        var limits = options.Value;
        if (limits.MaxConcurrentRenders < 1 || limits.QueueLength < 0 || limits.RendersPerOwnerPerMinute < 1 || limits.RenderBurstPerOwner < 1)
        {
            throw new OptionsValidationException(QrImageLimits.Section, typeof(QrImageLimits),
                ["QrImages: MaxConcurrentRenders, RendersPerOwnerPerMinute and RenderBurstPerOwner must be at least 1, QueueLength at least 0."]);
        }

        _renders = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = limits.MaxConcurrentRenders,
            QueueLimit = limits.QueueLength,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        var perToken = TimeSpan.FromMinutes(1) / limits.RendersPerOwnerPerMinute;
        _owners = PartitionedRateLimiter.Create<long, long>(owner => RateLimitPartition.GetTokenBucketLimiter(owner, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = limits.RenderBurstPerOwner,
                TokensPerPeriod = 1,
                ReplenishmentPeriod = perToken,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
    }

    /// <summary>
    /// A lease to render for <paramref name="ownerId"/>, or the refusal to send instead (429 for the owner's rate,
    /// 503 when the gateway's line is full). Dispose the lease once the image is drawn.
    /// </summary>
    public async Task<(IDisposable? Lease, ProblemHttpResult? Refusal)> EnterAsync(long ownerId, HttpResponse response, CancellationToken cancellationToken)
    {
        if (TakeOwnerToken(ownerId, response) is { } tooMany)
        {
            return (null, tooMany);
        }

        var lease = await _renders.AcquireAsync(1, cancellationToken);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            response.Headers.RetryAfter = "1";
            return (null, TypedResults.Problem(
                statusCode: StatusCodes.Status503ServiceUnavailable, title: "Too many QR images in progress.",
                detail: "The gateway is drawing as many QR images as it is allowed to; retry in a moment."));
        }

        return (lease, null);
    }

    /// <summary>
    /// Admission of a ZIP of QR images for <paramref name="ownerId"/>: it costs the owner one image of the per-minute rate
    /// (429 when spent) and an owner has one archive in progress per gateway (429 while another runs). Each image of the
    /// archive then takes a render slot like any other image (<see cref="RenderSlotAsync"/>), so archives share the
    /// gateway's render cap and line with single images. Dispose the lease when the archive ends.
    /// </summary>
    public (IDisposable? Lease, IResult? Refusal) EnterArchive(long ownerId, HttpResponse response)
    {
        if (TakeOwnerToken(ownerId, response) is { } tooMany)
        {
            return (null, tooMany);
        }

        if (!_archives.TryAdd(ownerId, 0))
        {
            response.Headers.RetryAfter = "5";
            return (null, Results.Problem(
                statusCode: StatusCodes.Status429TooManyRequests, title: "A ZIP of QR images is already in progress.",
                detail: "An owner gets one ZIP of QR images at a time from a gateway; retry when the other one has finished."));
        }

        return (new ArchiveLease(_archives, ownerId), null);
    }

    /// <summary>One image off the owner's per-minute rate; the 429 (with Retry-After) when it is spent.</summary>
    private ProblemHttpResult? TakeOwnerToken(long ownerId, HttpResponse response)
    {
        using var rate = _owners.AttemptAcquire(ownerId);
        if (rate.IsAcquired)
        {
            return null;
        }

        var wait = rate.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Problem(
            statusCode: StatusCodes.Status429TooManyRequests, title: "Too many QR images.",
            detail: "This owner has asked for more QR images than the gateway draws per minute; retry later or cache the image (ETag).");
    }

    /// <summary>A render slot for one image of an archive: waits in line with the single images, and longer when the line is full.</summary>
    public async Task<IDisposable> RenderSlotAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var lease = await _renders.AcquireAsync(1, cancellationToken);
            if (lease.IsAcquired)
            {
                return lease;
            }

            lease.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    private sealed class ArchiveLease(System.Collections.Concurrent.ConcurrentDictionary<long, byte> archives, long ownerId) : IDisposable
    {
        public void Dispose() => archives.TryRemove(ownerId, out _);
    }

    public void Dispose()
    {
        _renders.Dispose();
        _owners.Dispose();
    }
}
