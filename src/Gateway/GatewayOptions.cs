namespace InvexQr.Gateway;

/// <summary>The <c>Gateway</c> configuration section (env <c>Gateway__PublicBaseUrl</c>, ...).</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>The public origin printed into QR codes and short URLs, e.g. <c>https://qr.example.com</c>. Defaults to the request's own origin.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Length of generated random codes.</summary>
    public int RandomCodeLength { get; set; } = 7;
}
