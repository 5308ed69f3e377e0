using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using XtacGateway.Authentication;
using XtacGateway.Observability;

namespace XtacGateway.Hosting;

/// <summary>
/// ASP.NET Core's answer to a failed authorization (a route's YARP <c>AuthorizationPolicy</c>, the admin roles), with
/// two additions. The request is marked as answered by the gateway, as the enforcement step marks its own 401s and 403s:
/// proxy latency must not count requests that never reached an upstream. And a 403 whose handlers said why (the admin
/// roles do, with <see cref="CallerFacingFailureReason"/>) says so: problem details naming what the token lacks, and RFC
/// 6750's <c>insufficient_scope</c> challenge. Other handlers' reasons are not meant for callers and stay unsaid.
/// </summary>
internal sealed class GatewayAuthorizationResults : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _framework = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged || authorizeResult.Forbidden)
        {
            GatewayTelemetry.MarkAnsweredByGateway(context);
        }

        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure?.FailureReasons.OfType<CallerFacingFailureReason>().Select(r => r.Message).ToArray() is { Length: > 0 } reasons)
        {
            var detail = string.Join(" ", reasons);
            context.Response.Headers.WWWAuthenticate = BearerChallenge.InsufficientScope(detail);
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, detail: detail).ExecuteAsync(context);
        }

        return _framework.HandleAsync(next, context, policy, authorizeResult);
    }
}

/// <summary>A refusal whose reason is written for the caller: what the token lacks, nothing the caller may not know.</summary>
internal sealed class CallerFacingFailureReason(IAuthorizationHandler handler, string message) : AuthorizationFailureReason(handler, message);
