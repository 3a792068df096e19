using InvexQr.Data;
using InvexQr.Grains.Webhooks;

namespace InvexQr.Silo.Hosting.Webhooks;

public static class WebhookSetup
{
    /// <summary>The outbox's delivery workers on this silo (<c>Webhooks:*</c> settings).</summary>
    public static IHostApplicationBuilder AddWebhookDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebhookOptions>().Bind(builder.Configuration.GetSection(WebhookOptions.Section))
            .Validate(o => o.SaturatedShare is > 0 and <= 1, "Webhooks:SaturatedShare must be more than 0 and at most 1.")
            .Validate(o => o.MaxRestMs >= 0, "Webhooks:MaxRestMs must not be negative.")
            .ValidateOnStart();
        builder.Services.AddSingleton<WebhookOutbox>();
        builder.Services.AddSingleton(sp =>
        {
            var delivery = ActivatorUtilities.CreateInstance<WebhookDelivery>(sp, sp.GetRequiredService<SiloLoad>());
            sp.GetRequiredService<SiloMetrics>().ObserveWebhooks(
                () => delivery.DeliveredEvents, () => delivery.FailedAttempts, () => delivery.Rested.TotalSeconds);
            return delivery;
        });
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookDelivery>());
        return builder;
    }
}
