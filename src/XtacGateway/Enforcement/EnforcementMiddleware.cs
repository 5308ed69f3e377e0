using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using XtacGateway.Hosting;
using XtacGateway.Observability;
using XtacGateway.Policies;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using Yarp.ReverseProxy.Model;

namespace XtacGateway.Enforcement;

/// <summary>
/// The cross-tenant access step in YARP's pipeline: authenticate, decide with the snapshot in force, then
/// forward with trusted identity headers or answer 403 without calling the upstream.
/// </summary>
internal sealed class EnforcementMiddleware(
    RequestDelegate next,
    PolicySnapshotStore store,
    CallerContextProvider callers,
    GatewayTelemetry telemetry,
    IOptions<GatewayOptions> options,
    IOptions<PolicySourceOptions> sourceOptions,
    ILogger<EnforcementMiddleware> logger)
{
    public const string HomeTenantHeader = "X-Xtac-Home-Tenant-Id";
    public const string UserObjectIdHeader = "X-Xtac-User-Object-Id";
    public const string DecisionHeader = "X-Xtac-Decision";
    private const string ReservedPrefix = "X-Xtac-";

    private readonly FrozenSet<string> _removedHeaders = options.Value.Headers.Remove.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    private readonly FrozenSet<string> _removedHeadersDashed = options.Value.Headers.Remove.Select(name => name.Replace('_', '-')).ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    private readonly bool _stripAuthorization = options.Value.Headers.StripAuthorization;
    private readonly Guid _resourceTenant = options.Value.ResourceTenantId!.Value;

    /// <summary>Without a policy, the caller may try again when the source is next tried: its shortest retry delay.</summary>
    private readonly string _policyRetryAfter = RetryAfterHeader.Seconds(sourceOptions.Value.RetryMinDelay);

    public Task Invoke(HttpContext context)
    {
        var route = context.GetReverseProxyFeature().Route.Config;
        var rule = RouteRule.For(route);
        if (rule.App is not { } app)
        {
            RemoveSpoofableHeaders(context.Request.Headers);
            return next(context);
        }

        if (context.User.Identity?.IsAuthenticated != true)
        {
            // JwtBearer writes RFC 6750's WWW-Authenticate, with error="invalid_token" when a token was sent.
            GatewayTelemetry.MarkAnsweredByGateway(context);
            return context.ChallengeAsync(JwtBearerDefaults.AuthenticationScheme);
        }

        var caller = callers.Get(context.User);
        var snapshot = store.Current;
        var start = telemetry.StartDecisionTiming();
        var decision = snapshot is null
            ? PolicySnapshot.DecideWithoutPolicy(caller.Facts, app, _resourceTenant)
            : snapshot.Decide(caller.Facts, app);
        telemetry.RecordDecision(decision, rule.AppSlot, rule.AppTag, start);

        var version = snapshot?.Version ?? 0;
        // The request's own (server) span, not YARP's child span that is current inside the proxy pipeline.
        var activity = context.Features.Get<IHttpActivityFeature>()?.Activity ?? Activity.Current;
        if (IsTraced(activity))
        {
            // AddTag, not SetTag: each key is added once per request, so there is no need to search the span's tags.
            activity.AddTag("xtac.decision", decision.Verdict);
            activity.AddTag("xtac.reason", decision.ReasonName);
            activity.AddTag("xtac.app", rule.AppTag);
            activity.AddTag("xtac.home_tenant", caller.HomeTenantText);
            activity.AddTag("xtac.policy.version", telemetry.VersionTag(version));
            if (!decision.IsAllowed)
            {
                activity.SetStatus(ActivityStatusCode.Error, decision.ReasonName);
            }
        }

        if (!decision.IsAllowed)
        {
            var traceId = activity?.TraceId.ToHexString() ?? context.TraceIdentifier;
            Log.RequestDenied(logger, decision.ReasonName, decision.ErrorCode, app.AppId, decision.HomeTenantId, decision.SourceName, caller.LogUser, version, traceId);
            GatewayTelemetry.MarkAnsweredByGateway(context);
            return DenialResponse.WriteAsync(context, decision, traceId, _policyRetryAfter);
        }

        if (logger.IsEnabled(LogLevel.Debug))
        {
            Log.RequestAllowed(logger, decision.ReasonName, app.AppId, decision.HomeTenantId, decision.SourceName, caller.LogUser, version, activity?.TraceId.ToHexString() ?? context.TraceIdentifier);
        }

        var headers = context.Request.Headers;
        RemoveSpoofableHeaders(headers);
        headers[HomeTenantHeader] = caller.HomeTenantText;
        if (caller.UserObjectIdText is { } oid)
        {
            headers[UserObjectIdHeader] = oid;
        }

        headers[DecisionHeader] = decision.ReasonName;
        return next(context);
    }

    /// <summary>
    /// Whether a listener asked for this span's data. ASP.NET Core creates a request activity for log correlation
    /// even when nobody traces, and such an activity claims <see cref="Activity.IsAllDataRequested"/>; tagging it
    /// would cost every request and reach nobody.
    /// </summary>
    private static bool IsTraced([NotNullWhen(true)] Activity? activity)
        => activity is { IsAllDataRequested: true } && activity.Source.HasListeners();

    /// <summary>
    /// <c>X_Xtac_Home_Tenant_Id</c> and the like: upstreams that read headers CGI-style (<c>HTTP_X_XTAC_HOME_TENANT_ID</c>)
    /// cannot tell them from the trusted headers, so they are removed like the dashed spellings.
    /// </summary>
    private bool IsUnderscoreSpelling(string name)
    {
        if (!name.Contains('_'))
        {
            return false;
        }

        var dashed = name.Replace('_', '-');
        return dashed.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase) || _removedHeadersDashed.Contains(dashed);
    }

    private void RemoveSpoofableHeaders(IHeaderDictionary headers)
    {
        // Collect first: a header dictionary cannot change while it is enumerated.
        List<string>? spoofable = null;
        foreach (var header in headers)
        {
            var name = header.Key;
            if (name.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase)
                || _removedHeaders.Contains(name)
                || IsUnderscoreSpelling(name))
            {
                (spoofable ??= []).Add(name);
            }
        }

        if (spoofable is not null)
        {
            foreach (var name in spoofable)
            {
                headers.Remove(name);
            }
        }

        if (_stripAuthorization)
        {
            headers.Authorization = StringValues.Empty;
        }
    }
}
