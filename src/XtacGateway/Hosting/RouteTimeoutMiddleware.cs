using Microsoft.AspNetCore.Http.Timeouts;
using Yarp.ReverseProxy.Forwarder;

namespace XtacGateway.Hosting;

/// <summary>
/// A route's <c>Timeout</c> cancels the request through ASP.NET Core's request timeouts middleware; YARP then sees a
/// cancelled request and answers 400, as for a client that went away. The upstream was too slow, not the caller:
/// this makes it the 504 a gateway answers for that.
/// </summary>
internal sealed class RouteTimeoutMiddleware(RequestDelegate next)
{
    // Not async unless the route has a timeout: the middleware sets the feature only then, and every other request
    // passes straight through without a state machine of its own.
    public Task Invoke(HttpContext context)
        => context.Features.Get<IHttpRequestTimeoutFeature>() is { } timeout ? InvokeAsync(context, timeout) : next(context);

    private async Task InvokeAsync(HttpContext context, IHttpRequestTimeoutFeature timeout)
    {
        await next(context);
        if (timeout.RequestTimeoutToken.IsCancellationRequested
            && context.Response.StatusCode == StatusCodes.Status400BadRequest
            && !context.Response.HasStarted
            && context.Features.Get<IForwarderErrorFeature>()?.Error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled)
        {
            context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
        }
    }
}
