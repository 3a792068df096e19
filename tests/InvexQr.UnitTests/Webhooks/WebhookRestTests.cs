using InvexQr.Grains.Webhooks;

namespace InvexQr.UnitTests.Webhooks;

public sealed class WebhookRestTests
{
    [Fact]
    public void A_worker_rests_only_while_the_silo_is_saturated_so_as_to_work_its_share_of_the_time()
    {
        var options = new WebhookOptions { SaturatedShare = 0.1, MaxRestMs = 2000 };
        Assert.Equal(TimeSpan.Zero, options.RestAfter(TimeSpan.FromMilliseconds(40), saturated: false));
        Assert.Equal(TimeSpan.FromMilliseconds(360), options.RestAfter(TimeSpan.FromMilliseconds(40), saturated: true));
        Assert.Equal(TimeSpan.FromSeconds(2), options.RestAfter(TimeSpan.FromSeconds(1), saturated: true)); // capped

        Assert.Equal(TimeSpan.Zero, new WebhookOptions { SaturatedShare = 1 }.RestAfter(TimeSpan.FromSeconds(1), saturated: true));
        Assert.Equal(TimeSpan.FromMilliseconds(100), new WebhookOptions { SaturatedShare = 0.5 }.RestAfter(TimeSpan.FromMilliseconds(100), saturated: true));
    }
}
