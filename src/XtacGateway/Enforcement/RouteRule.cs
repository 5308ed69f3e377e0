using System.Runtime.CompilerServices;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;
using XtacGateway.Observability;
using XtacGateway.Policy.Evaluation;

namespace XtacGateway.Enforcement;

/// <summary>What a YARP route says about the app behind it, read from the route's metadata once.</summary>
internal sealed class RouteRule
{
    public const string AppIdKey = "Xtac.AppId";
    public const string GrantControlsKey = "Xtac.GrantControls";
    public const string GrantOperatorKey = "Xtac.GrantOperator";
    public const string PublicKey = "Xtac.Public";

    /// <summary>Every key that starts so is the gateway's, however it goes on.</summary>
    private const string KeyStem = "Xtac";

    private static readonly ConditionalWeakTable<RouteConfig, RouteRule> s_rules = [];
    private static readonly string[] s_keys = [AppIdKey, GrantControlsKey, GrantOperatorKey, PublicKey];

    private RouteRule(AppPolicy? app)
    {
        App = app;
        AppTag = app?.AppId.ToString() ?? "public";
        AppSlot = GatewayTelemetry.AppSlot(AppTag);
    }

    /// <summary>Null for a public route (<c>Xtac.Public: true</c>), which is forwarded without authentication.</summary>
    public AppPolicy? App { get; }

    /// <summary>The app ID as text, formatted once for metric tags and logs.</summary>
    public string AppTag { get; }

    /// <summary>Where the app's decisions are counted (<see cref="GatewayTelemetry.AppSlot"/>).</summary>
    public int AppSlot { get; }

    /// <summary>The rule for a route already checked by <see cref="RouteRuleConfigFilter"/>.</summary>
    public static RouteRule For(RouteConfig route)
        => s_rules.GetValue(route, static r => Parse(r, out var errors) ?? throw new InvalidOperationException(string.Join(" ", errors)));

    /// <summary>Parses a route's metadata; null with the reasons when the route cannot be enforced.</summary>
    public static RouteRule? Parse(RouteConfig route, out List<string> errors)
    {
        errors = [];
        var metadata = CheckKeysAndValues(route.RouteId, route.Metadata ?? new Dictionary<string, string>(), errors);
        if (errors.Count > 0)
        {
            return null;
        }

        if (metadata.TryGetValue(PublicKey, out var isPublic) && bool.Parse(isPublic))
        {
            // A route copied from a protected one and marked public would otherwise be forwarded unauthenticated
            // while its metadata still reads as protected: refuse the contradiction instead of picking a side.
            var protectedKeys = new[] { AppIdKey, GrantControlsKey, GrantOperatorKey }.Where(metadata.ContainsKey).ToArray();
            if (protectedKeys.Length > 0)
            {
                errors.Add($"Route '{route.RouteId}' says '{PublicKey}: true' (forwarded without authentication) and also has '{string.Join("', '", protectedKeys)}': remove one or the other.");
                return null;
            }

            return new RouteRule(null);
        }

        if (!metadata.TryGetValue(AppIdKey, out var appId))
        {
            errors.Add($"Route '{route.RouteId}' has no '{AppIdKey}' metadata: every route must name the app it protects (or say '{PublicKey}: true').");
            return null;
        }

        metadata.TryGetValue(GrantOperatorKey, out var grantOperator);
        metadata.TryGetValue(GrantControlsKey, out var controls);
        var problems = new List<string>();
        var app = AppPolicy.TryCreate(appId, grantOperator, new StringValues(controls?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)), problems);
        foreach (var problem in problems)
        {
            errors.Add($"Route '{route.RouteId}': {problem}");
        }

        return app is null ? null : new RouteRule(app);
    }

    /// <summary>
    /// Every key that starts with <c>Xtac</c> must be one the gateway reads, once, with a text value; returns the
    /// gateway's keys whatever their case. A misspelt key, a key written with another separator (configuration splits
    /// <c>Xtac:GrantControls</c> and <c>Xtac__GrantControls</c> into a section <c>Xtac</c>), or grant controls written as
    /// a JSON array (YARP reads metadata as strings, so the array's items are dropped and the value is null) would
    /// otherwise leave the app with fewer controls than its configuration shows: fail open.
    /// </summary>
    private static Dictionary<string, string> CheckKeysAndValues(string routeId, IReadOnlyDictionary<string, string> metadata, List<string> errors)
    {
        // Routes from code may carry a case-sensitive dictionary: the keys are looked up here, not through its comparer.
        var known = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in metadata)
        {
            if (!key.StartsWith(KeyStem, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!s_keys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"Route '{routeId}' has metadata '{key}', which the gateway does not read: the keys are '{string.Join("', '", s_keys)}'" +
                    (key.Length == KeyStem.Length ? " (configuration reads ':' and '__' as section separators: write the dot)." : "."));
            }
            else if (value is null)
            {
                errors.Add($"Route '{routeId}': '{key}' has no text value (an array or object in configuration is not read as route metadata): " +
                    (key.Equals(GrantControlsKey, StringComparison.OrdinalIgnoreCase) ? "list the controls in one string, comma-separated, e.g. \"mfa,compliantDevice\"." : "write it as one string."));
            }
            else if (!known.TryAdd(key, value))
            {
                errors.Add($"Route '{routeId}' has '{key}' more than once (keys differing only in case): keep one.");
            }
            else if (key.Equals(PublicKey, StringComparison.OrdinalIgnoreCase) && !bool.TryParse(value, out _))
            {
                errors.Add($"Route '{routeId}': '{PublicKey}' is '{value}'; write true or false.");
            }
        }

        return known;
    }
}

/// <summary>Refuses any route that cannot be enforced: at start-up that stops the gateway (fail closed); on reload YARP keeps the old routes.</summary>
internal sealed class RouteRuleConfigFilter : IProxyConfigFilter
{
    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel) => new(cluster);

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel)
    {
        RouteRule.Parse(route, out var errors);
        AddUnservedSettings(route, errors);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }

        return new(route);
    }

    /// <summary>
    /// Settings YARP lets through that need a middleware the gateway does not run: the framework would fail each of
    /// the route's requests with a 500 (CORS) or silently not apply them (rate limiting). YARP itself refuses a named
    /// policy nobody registered.
    /// </summary>
    private static void AddUnservedSettings(RouteConfig route, List<string> errors)
    {
        if (route.CorsPolicy is { } cors && !cors.Equals("Disable", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"Route '{route.RouteId}' sets 'CorsPolicy' to '{cors}', but the gateway runs no CORS middleware " +
                "(and a browser's preflight carries no token, so the gateway would refuse it): remove it.");
        }

        if (route.RateLimiterPolicy is { } limiter && !limiter.Equals("Disable", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"Route '{route.RouteId}' sets 'RateLimiterPolicy' to '{limiter}', but the gateway runs no rate limiter: remove it, and limit in front of the gateway.");
        }
    }
}

/// <summary>
/// Once YARP has applied a route configuration (never one it refused), has telemetry report the decisions its routes
/// can give from zero (<see cref="GatewayTelemetry.ReportFromZero"/>).
/// </summary>
internal sealed class DecisionSeriesOfAppliedRoutes(GatewayTelemetry telemetry) : IConfigChangeListener
{
    public void ConfigurationApplied(IReadOnlyList<IProxyConfig> proxyConfigs)
        => telemetry.ReportFromZero(proxyConfigs.SelectMany(config => config.Routes ?? []).Select(RouteRule.For));

    public void ConfigurationLoaded(IReadOnlyList<IProxyConfig> proxyConfigs)
    {
    }

    public void ConfigurationLoadingFailed(IProxyConfigProvider configProvider, Exception exception)
    {
    }

    public void ConfigurationApplyingFailed(IReadOnlyList<IProxyConfig> proxyConfigs, Exception exception)
    {
    }
}
