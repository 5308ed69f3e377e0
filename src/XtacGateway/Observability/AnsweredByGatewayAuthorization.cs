using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace XtacGateway.Observability;

/// <summary>
/// ASP.NET Core's own answer to a failed authorization (a route's YARP <c>AuthorizationPolicy</c>, the admin roles), with
/// the request marked as answered by the gateway, as the enforcement step marks its own 401s and 403s: proxy latency
/// must not count requests that never reached an upstream.
/// </summary>
internal sealed class AnsweredByGatewayAuthorization : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _framework = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged || authorizeResult.Forbidden)
        {
            GatewayTelemetry.MarkAnsweredByGateway(context);
        }

        return _framework.HandleAsync(next, context, policy, authorizeResult);
    }
}
