namespace InvexQr.Gateway.Api;

/// <summary>
/// The <c>Owners</c> configuration section: what an owner (not an admin) may ask for. <see cref="MaxCodes"/> is checked
/// before each create, so owners creating in parallel may end a few over it; the throttle ceilings bound the per-code
/// overrides an owner may set (<c>throttleBurst</c>, <c>throttlePerMinute</c>).
/// </summary>
public sealed class OwnerLimits
{
    public const string Section = "Owners";

    public int MaxCodes { get; set; } = 10_000;

    public int MaxThrottleBurst { get; set; } = 1_000;

    public int MaxThrottlePerMinute { get; set; } = 10_000;
}
