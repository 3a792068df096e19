namespace InvexQr.Gateway.Live;

/// <summary>Limits of the live view's event streams (<c>Live:*</c>), per gateway process.</summary>
public sealed class LiveOptions
{
    public const string Section = "Live";

    /// <summary>Streams one owner may hold open on this gateway; more are answered 429.</summary>
    public int MaxStreamsPerOwner { get; set; } = 10;

    /// <summary>Streams this gateway holds open in all; more are answered 429.</summary>
    public int MaxStreamsPerGateway { get; set; } = 500;

    /// <summary>A comment line at least this often keeps proxies from closing a quiet stream.</summary>
    public int HeartbeatSeconds { get; set; } = 15;

    /// <summary>At most one update per viewer per this interval: what arrives meanwhile is merged into the next.</summary>
    public int MinUpdateIntervalMs { get; set; } = 250;

    /// <summary>The key or session behind a stream is checked again this often; revoked or signed out ends the stream.</summary>
    public int RecheckSeconds { get; set; } = 60;

    /// <summary>A write that a viewer does not take within this long ends its stream (it stopped reading).</summary>
    public int WriteTimeoutSeconds { get; set; } = 30;

    public string? Validate() =>
        MaxStreamsPerOwner < 1 || MaxStreamsPerGateway < 1 ? "Live:MaxStreamsPerOwner and Live:MaxStreamsPerGateway must be at least 1."
        : HeartbeatSeconds is < 1 or > 300 ? "Live:HeartbeatSeconds must be from 1 to 300."
        : MinUpdateIntervalMs is < 50 or > 10_000 ? "Live:MinUpdateIntervalMs must be from 50 to 10000."
        : RecheckSeconds is < 1 or > 3600 ? "Live:RecheckSeconds must be from 1 to 3600."
        : WriteTimeoutSeconds is < 1 or > 600 ? "Live:WriteTimeoutSeconds must be from 1 to 600."
        : null;
}
