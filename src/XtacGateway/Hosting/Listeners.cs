using System.Net;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace XtacGateway.Hosting;

/// <summary>
/// Two kinds of Kestrel listener: the proxy listener (<c>urls</c>, else the <c>http_ports</c> and <c>https_ports</c>
/// lists, as ASP.NET Core reads them) and the management listener (<c>Xtac:Management:Urls</c>), which alone serves the admin
/// API and metrics. Each connection is stamped with its listener, so an endpoint can refuse the wrong one.
/// </summary>
internal static class Listeners
{
    public const string ManagementUrlsSetting = "Xtac:Management:Urls";
    private const string DefaultManagementUrls = "http://127.0.0.1:5081";
    private const string ListenerItem = "xtac.listener";
    private const string Management = "management";

    public static void ConfigureListeners(this WebApplicationBuilder builder)
    {
        var proxyUrls = ProxyUrls(builder.Configuration);
        var managementUrls = Split(builder.Configuration[ManagementUrlsSetting] ?? DefaultManagementUrls);

        var endpoints = new ListenerEndpoints();
        builder.Services.AddSingleton(endpoints);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ListenerMatcherPolicy>());

        // Explicit endpoints replace these settings. Cleared, the port lists no longer draw Kestrel's "Overriding
        // address(es)" warning; 'urls' still does (once, at start), since the web host has read it before this runs.
        builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, string.Empty);
        builder.WebHost.UseSetting(WebHostDefaults.HttpPortsKey, string.Empty);
        builder.WebHost.UseSetting(WebHostDefaults.HttpsPortsKey, string.Empty);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            endpoints.Clear();
            foreach (var url in proxyUrls)
            {
                endpoints.Proxy.Add(Listen(kestrel, url, management: false));
            }

            foreach (var url in managementUrls)
            {
                endpoints.Management.Add(Listen(kestrel, url, management: true));
            }
        });
    }

    /// <summary>True when the request arrived on the management listener (the exact check, per connection).</summary>
    public static bool IsManagementRequest(this HttpContext context)
        => context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ListenerItem, out var kind) == true && Equals(kind, Management);

    private static (string Scheme, Func<ListenOptions?> Options) Listen(KestrelServerOptions kestrel, string url, bool management)
    {
        ListenOptions? bound = null;
        // '+' and '*' are not hosts Uri can read; they mean every address, IPv6 and IPv4, as ASP.NET Core's 'urls' has it.
        var anyAddress = url.Contains("://+", StringComparison.Ordinal) || url.Contains("://*", StringComparison.Ordinal);
        var uri = new Uri(anyAddress ? url.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal) : url);
        void Configure(ListenOptions listen)
        {
            bound = listen;
            if (uri.Scheme == Uri.UriSchemeHttps)
            {
                listen.UseHttps();
            }

            if (management)
            {
                listen.Use(next => connection =>
                {
                    connection.Items[ListenerItem] = Management;
                    return next(connection);
                });
            }
        }

        if (anyAddress)
        {
            // A dual-mode IPv6 socket, or IPv4 alone where the host has no IPv6.
            kestrel.ListenAnyIP(uri.Port, Configure);
        }
        else if (string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(uri.Port, Configure);
        }
        else if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            kestrel.Listen(address, uri.Port, Configure);
        }
        else
        {
            throw new InvalidOperationException($"Cannot listen on '{url}': use an IP address, localhost, '+' or '*'.");
        }

        return (uri.Scheme, () => bound);
    }

    /// <summary>
    /// The proxy listener's URLs as ASP.NET Core reads them: <c>urls</c>, else the <c>http_ports</c> and <c>https_ports</c>
    /// port lists on every address (<c>ASPNETCORE_HTTP_PORTS</c>, which the .NET container images set to 8080), else
    /// <c>http://localhost:5000</c>.
    /// </summary>
    internal static string[] ProxyUrls(IConfiguration configuration)
    {
        if (configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls)
        {
            return Split(urls);
        }

        string[] fromPorts =
        [
            .. Split(configuration[WebHostDefaults.HttpPortsKey] ?? "").Select(port => $"http://*:{port}"),
            .. Split(configuration[WebHostDefaults.HttpsPortsKey] ?? "").Select(port => $"https://*:{port}"),
        ];
        return fromPorts.Length > 0 ? fromPorts : ["http://localhost:5000"];
    }

    private static string[] Split(string urls) => urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>The listeners' actual addresses (with the ports Kestrel picked for port 0) once the server runs.</summary>
internal sealed class ListenerEndpoints
{
    private int[]? _managementPorts;

    internal List<(string Scheme, Func<ListenOptions?> Options)> Proxy { get; } = [];

    internal List<(string Scheme, Func<ListenOptions?> Options)> Management { get; } = [];

    public IReadOnlyList<string> ProxyUrls => Urls(Proxy);

    public IReadOnlyList<string> ManagementUrls => Urls(Management);

    /// <summary>
    /// True when the request arrived on the management listener. A connection to none of the management ports is on
    /// the proxy listener, which the request's own connection feature tells; only otherwise (ports shared across
    /// addresses, or not bound yet) does the check go through the connection's item dictionary.
    /// </summary>
    public bool IsManagementRequest(HttpContext context)
    {
        var ports = _managementPorts ??= ManagementPorts();
        return (ports is null || Array.IndexOf(ports, context.Connection.LocalPort) >= 0) && context.IsManagementRequest();
    }

    /// <summary>The management listeners' ports once bound, or null while any is unknown.</summary>
    private int[]? ManagementPorts()
    {
        var ports = new int[Management.Count];
        for (var i = 0; i < ports.Length; i++)
        {
            if (Management[i].Options() is not { IPEndPoint.Port: > 0 and var port })
            {
                return null;
            }

            ports[i] = port;
        }

        return ports;
    }

    internal void Clear()
    {
        Proxy.Clear();
        Management.Clear();
        _managementPorts = null;
    }

    private static List<string> Urls(List<(string Scheme, Func<ListenOptions?> Options)> listeners)
    {
        var urls = new List<string>();
        foreach (var (scheme, options) in listeners)
        {
            if (options() is { IPEndPoint: { } endpoint })
            {
                var host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any) ? "127.0.0.1"
                    : endpoint.Address.Equals(IPAddress.IPv6Loopback) ? "[::1]" : endpoint.Address.ToString();
                urls.Add($"{scheme}://{host}:{endpoint.Port}");
            }
        }

        return urls;
    }
}

/// <summary>Marks an endpoint served only on the management listener.</summary>
internal sealed class ManagementEndpointAttribute : Attribute;

/// <summary>Marks an endpoint served on both listeners (health).</summary>
internal sealed class SharedEndpointAttribute : Attribute;

internal static class ManagementEndpointConventions
{
    private static readonly HttpMethodMetadata s_getOnly = new([HttpMethods.Get]);
    private static readonly HttpMethodMetadata s_getOrHead = new([HttpMethods.Get, HttpMethods.Head]);

    /// <summary>
    /// A management-only read that the framework maps for every method (the Prometheus exporter, health checks): GET
    /// only, so a wrong method is a 405 like on the admin API's reads.
    /// </summary>
    public static TBuilder AsManagementRead<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new ManagementEndpointAttribute(), s_getOnly);

    /// <summary>
    /// A probe served on both listeners (<c>/healthz</c>, <c>/readyz</c>): GET and HEAD only, so that on the proxy
    /// listener any other method on those paths still reaches the app, and on the management listener it is a 405.
    /// </summary>
    public static TBuilder AsSharedProbe<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new SharedEndpointAttribute(), s_getOrHead);
}
