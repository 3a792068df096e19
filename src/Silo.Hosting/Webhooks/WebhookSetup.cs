using InvexQr.Data;
using InvexQr.Grains.Webhooks;

namespace InvexQr.Silo.Hosting.Webhooks;

public static class WebhookSetup
{
    /// <summary>The outbox's delivery workers on this silo (<c>Webhooks:*</c> settings).</summary>
    public static IHostApplicationBuilder AddWebhookDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<WebhookOptions>(builder.Configuration.GetSection(WebhookOptions.Section));
        builder.Services.AddSingleton<WebhookOutbox>();
        builder.Services.AddSingleton<WebhookDelivery>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookDelivery>());
        return builder;
    }
}
