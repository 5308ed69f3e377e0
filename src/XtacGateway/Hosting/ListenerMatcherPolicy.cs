using Microsoft.AspNetCore.Routing.Matching;

namespace XtacGateway.Hosting;

/// <summary>
/// Drops, while routing, the endpoints a request's listener does not serve: a management endpoint asked for on the
/// proxy listener is not a match, so a proxy route that also matches the path (a catch-all) forwards it to the app
/// behind the gateway instead of the gateway answering 404 for a path the app owns.
/// </summary>
/// <remarks>
/// Routing asks this policy only for the candidate sets that contain a management endpoint, so a request no
/// management path could match pays nothing. Proxy routes on the management listener are refused by
/// <see cref="EndpointGateMiddleware"/>, which needs no routing help for that.
/// </remarks>
internal sealed class ListenerMatcherPolicy(ListenerEndpoints listeners) : MatcherPolicy, IEndpointSelectorPolicy
{
    // After the framework's own selector policies; the order among them does not matter for this one.
    public override int Order => 1000;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<ManagementEndpointAttribute>() is not null)
            {
                return true;
            }
        }

        return false;
    }

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var management = listeners.IsManagementRequest(httpContext);
        for (var i = 0; i < candidates.Count; i++)
        {
            if (!candidates.IsValidCandidate(i))
            {
                continue;
            }

            var metadata = candidates[i].Endpoint.Metadata;
            if (metadata.GetMetadata<SharedEndpointAttribute>() is null
                && (metadata.GetMetadata<ManagementEndpointAttribute>() is not null) != management)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}
