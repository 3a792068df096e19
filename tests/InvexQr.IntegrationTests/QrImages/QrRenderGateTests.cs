using InvexQr.Gateway.QrImages;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace InvexQr.IntegrationTests.QrImages;

/// <summary>The bounds on QR rendering: per owner (429) and per gateway (503), each with Retry-After.</summary>
public sealed class QrRenderGateTests
{
    [Fact]
    public async Task An_owner_beyond_its_burst_gets_429_while_another_owner_still_renders()
    {
        using var gate = new QrRenderGate(Options.Create(new QrImageLimits { RenderBurstPerOwner = 3, RendersPerOwnerPerMinute = 1 }));

        for (var i = 0; i < 3; i++)
        {
            var (lease, refusal) = await gate.EnterAsync(1, new DefaultHttpContext().Response, default);
            Assert.Null(refusal);
            lease!.Dispose();
        }

        var response = new DefaultHttpContext().Response;
        var (refused, problem) = await gate.EnterAsync(1, response, default);
        Assert.Null(refused);
        Assert.Equal(StatusCodes.Status429TooManyRequests, (problem as Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult)?.StatusCode);
        Assert.True(int.Parse(response.Headers.RetryAfter!) is > 0 and <= 60, response.Headers.RetryAfter);

        var (other, _) = await gate.EnterAsync(2, new DefaultHttpContext().Response, default);
        Assert.NotNull(other);
        other!.Dispose();
    }

    [Fact]
    public async Task Renders_beyond_the_cap_wait_in_line_and_beyond_the_line_get_503()
    {
        using var gate = new QrRenderGate(Options.Create(new QrImageLimits { MaxConcurrentRenders = 1, QueueLength = 1 }));

        var (first, _) = await gate.EnterAsync(1, new DefaultHttpContext().Response, default);
        Assert.NotNull(first);
        var waiting = gate.EnterAsync(2, new DefaultHttpContext().Response, default);
        Assert.False(waiting.IsCompleted);

        var response = new DefaultHttpContext().Response;
        var (refused, problem) = await gate.EnterAsync(3, response, default);
        Assert.Null(refused);
        Assert.Equal(StatusCodes.Status503ServiceUnavailable, (problem as Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult)?.StatusCode);
        Assert.Equal("1", response.Headers.RetryAfter.ToString());

        first!.Dispose();
        var (second, _) = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(second);
        second!.Dispose();
    }

    [Fact]
    public void Limits_below_one_are_refused_at_start()
    {
        Assert.Throws<OptionsValidationException>(() => new QrRenderGate(Options.Create(new QrImageLimits { MaxConcurrentRenders = 0 })));
    }
}
