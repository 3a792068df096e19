using System.Security.Claims;
using InvexQr.Silo.Hosting;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// After authentication, the grain calls of an authenticated request carry the caller the gateway established, signed
/// (<see cref="GrainCallerTokens"/>), so a grain can check that the owner id it is passed is the caller's
/// (<see cref="GrainCallerRules"/>). Anonymous requests (scans) carry none and need none.
/// </summary>
public static class GrainCallerMiddleware
{
    public static IApplicationBuilder UseGrainCaller(this IApplicationBuilder app)
    {
        var tokens = app.ApplicationServices.GetRequiredService<GrainCallerTokens>();
        return app.Use(async (context, next) =>
        {
            if (context.User.Identity?.IsAuthenticated != true || context.User.FindFirstValue(ClaimTypes.Role) is not { } role)
            {
                await next(context);
                return;
            }

            using (GrainCaller.Act(new GrainCaller(context.User.OwnerId(), role), tokens))
            {
                await next(context);
            }
        });
    }
}
