namespace InvexQr.Grains.Webhooks;

/// <summary>The event types an endpoint can subscribe to.</summary>
public static class WebhookEvents
{
    public const string Scan = "scan";
    public const string CodeCreated = "code.created";
    public const string CodeUpdated = "code.updated";
    public const string CodeDeleted = "code.deleted";
    public const string CodeGone = "code.gone";

    public static readonly IReadOnlyList<string> All = [Scan, CodeCreated, CodeUpdated, CodeDeleted, CodeGone];
}
