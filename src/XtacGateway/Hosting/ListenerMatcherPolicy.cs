using Microsoft.AspNetCore.Routing.Matching;

namespace XtacGateway.Hosting;

/// <summary>
/// Splits routing by listener wherever a management endpoint shares a path: on the proxy listener only the proxy's
/// endpoints (and health) match, on the management listener only the management's. So a proxy route that also matches
/// the path (a catch-all) forwards <c>/metrics</c>, <c>/health</c> or <c>/admin</c> to the app behind the gateway, and
/// without one the answer is 404, never a 405 whose <c>Allow</c> header lists the admin API's methods. On the management
/// listener a wrong method on a management path is a 405 listing the methods that path serves.
/// </summary>
/// <remarks>
/// A node policy, ordered before ASP.NET Core's HTTP method policy, so the method check sees only the listener's own
/// endpoints. Routing builds it into the nodes that hold a management or shared endpoint; a request no such path could
/// match pays nothing. Proxy routes on the management listener elsewhere are refused by
/// <see cref="EndpointGateMiddleware"/>.
/// </remarks>
internal sealed class ListenerMatcherPolicy(ListenerEndpoints listeners) : MatcherPolicy, INodeBuilderPolicy
{
    // HttpMethodMatcherPolicy is -1000.
    public override int Order => -1100;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<ManagementEndpointAttribute>() is not null
                || endpoint.Metadata.GetMetadata<SharedEndpointAttribute>() is not null)
            {
                return true;
            }
        }

        return false;
    }

    public IReadOnlyList<PolicyNodeEdge> GetEdges(IReadOnlyList<Endpoint> endpoints)
    {
        var management = new List<Endpoint>();
        var proxy = new List<Endpoint>();
        foreach (var endpoint in endpoints)
        {
            var shared = endpoint.Metadata.GetMetadata<SharedEndpointAttribute>() is not null;
            var managementOnly = endpoint.Metadata.GetMetadata<ManagementEndpointAttribute>() is not null;
            if (shared || managementOnly)
            {
                management.Add(endpoint);
            }

            if (shared || !managementOnly)
            {
                proxy.Add(endpoint);
            }
        }

        var edges = new List<PolicyNodeEdge>(2) { new(Listener.Management, management) };
        if (proxy.Count > 0)
        {
            edges.Add(new PolicyNodeEdge(Listener.Proxy, proxy));
        }

        return edges;
    }

    public PolicyJumpTable BuildJumpTable(int exitDestination, IReadOnlyList<PolicyJumpTableEdge> edges)
    {
        var management = exitDestination;
        var proxy = exitDestination;
        foreach (var edge in edges)
        {
            if ((Listener)edge.State == Listener.Management)
            {
                management = edge.Destination;
            }
            else
            {
                proxy = edge.Destination;
            }
        }

        return new ListenerJumpTable(listeners, management, proxy);
    }

    private enum Listener
    {
        Proxy,
        Management,
    }

    private sealed class ListenerJumpTable(ListenerEndpoints listeners, int management, int proxy) : PolicyJumpTable
    {
        public override int GetDestination(HttpContext httpContext)
        {
            if (!listeners.IsManagementRequest(httpContext))
            {
                return proxy;
            }

            httpContext.Features.Set(ManagementCandidatesFeature.Instance);
            return management;
        }
    }
}

/// <summary>
/// Marks a request routed among the management listener's own endpoints. Routing's 405 endpoint carries no metadata,
/// so this is how <see cref="EndpointGateMiddleware"/> tells a 405 made from management endpoints (served, with their
/// <c>Allow</c> header) from one made from a proxy route's methods (not served on the management listener: 404).
/// </summary>
internal sealed class ManagementCandidatesFeature
{
    public static readonly ManagementCandidatesFeature Instance = new();

    private ManagementCandidatesFeature()
    {
    }
}
