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
    public async Task Invoke(HttpContext context)
    {
        await next(context);

        // The status is checked first: almost every request ends here, and only this cheap test.
        if (context.Response.StatusCode == StatusCodes.Status400BadRequest
            && !context.Response.HasStarted
            && context.Features.Get<IForwarderErrorFeature>()?.Error is ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled
            && context.Features.Get<IHttpRequestTimeoutFeature>() is { RequestTimeoutToken.IsCancellationRequested: true })
        {
            context.Response.StatusCode = StatusCodes.Status504GatewayTimeout;
        }
    }
}
