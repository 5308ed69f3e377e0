using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.Extensions.Primitives;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Authorization;
using Microsoft.IdentityModel.JsonWebTokens;
using XtacGateway.Enforcement;
using XtacGateway.Hosting;
using Yarp.ReverseProxy.Model;

namespace XtacGateway.Authentication;

/// <summary>
/// The gateway's authentication step, in place of <c>UseAuthentication()</c>. A bearer token JwtBearer has already
/// accepted is answered from <see cref="VerifiedTokenCache"/>: no request scope, no handler, no events, no ticket.
/// A request to an endpoint that needs no caller (a public route, <c>/health</c>, <c>/metrics</c>) is not
/// authenticated at all: a token sent along would otherwise cost a signature check, or wait on the issuer's keys while
/// the issuer is slow. Every other request goes through ASP.NET Core's own <see cref="AuthenticationMiddleware"/>
/// unchanged, and a token it accepts is cached on the way out of JwtBearer's <c>OnTokenValidated</c>.
/// </summary>
internal sealed class VerifiedTokenAuthenticationMiddleware
{
    private const string BearerPrefix = "Bearer ";

    private static readonly ConditionalWeakTable<Endpoint, StrongBox<bool>> s_callerNeeded = [];

    private readonly RequestDelegate _next;
    private readonly AuthenticationMiddleware _framework;
    private readonly VerifiedTokenCache _cache;
    private readonly bool _enabled;
    private readonly bool _authorizeAll;

    public VerifiedTokenAuthenticationMiddleware(
        RequestDelegate next, IAuthenticationSchemeProvider schemes, VerifiedTokenCache cache, IClaimsTransformation transformation, IAuthorizationPolicyProvider policies)
    {
        _next = next;
        _framework = new AuthenticationMiddleware(next, schemes);
        _cache = cache;
        _authorizeAll = EndpointAuthorization.AppliesToEvery(policies);

        // A claims transformation runs after the handler on every authentication; a cached identity would skip it.
        _enabled = cache.Enabled && transformation is NoopClaimsTransformation;
    }

    public Task Invoke(HttpContext context)
    {
        if (_enabled && TryReadBearerToken(context.Request.Headers.Authorization, out var token) && _cache.TryGet(token, out var identity))
        {
            // A principal per request: code downstream may add identities to it; the cached identity is shared.
            var feature = new VerifiedTokenFeature(new ClaimsPrincipal(identity));
            context.Features.Set<IHttpAuthenticationFeature>(feature);
            context.Features.Set<IAuthenticateResultFeature>(feature);
            return _next(context);
        }

        // After the cache, which answers a protected route's callers without looking at the endpoint.
        if (!_authorizeAll && context.GetEndpoint() is { } endpoint && !s_callerNeeded.GetValue(endpoint, NeedsCaller).Value)
        {
            return _next(context);
        }

        return _framework.Invoke(context);
    }

    /// <summary>
    /// A proxy route with an app needs its caller for the enforcement step; any endpoint with authorization metadata
    /// (the admin API, a route's own <c>AuthorizationPolicy</c>) for the authorization middleware. Nothing else does.
    /// </summary>
    private static StrongBox<bool> NeedsCaller(Endpoint endpoint)
        => new(EndpointAuthorization.IsNamedBy(endpoint.Metadata)
            || (endpoint.Metadata.GetMetadata<RouteModel>() is { } route && RouteRule.For(route.Config).App is not null));

    /// <summary>The token as JwtBearer reads it: one <c>Authorization</c> value, scheme case-insensitive, surrounding spaces trimmed.</summary>
    internal static bool TryReadBearerToken(StringValues authorization, out ReadOnlySpan<char> token)
    {
        token = default;
        if (authorization.Count != 1 || authorization[0] is not { } value || !value.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        token = value.AsSpan(BearerPrefix.Length).Trim();
        return token.Length > 0;
    }

    /// <summary>
    /// Wraps the outermost <c>OnTokenValidated</c> handler: a token is cached only when JwtBearer is about to accept it,
    /// after every other handler (Microsoft.Identity.Web's scope-or-role check among them) has had its say.
    /// </summary>
    public static Func<TokenValidatedContext, Task> CacheWhenAccepted(Func<TokenValidatedContext, Task> previous, VerifiedTokenCache cache)
    {
        if (!cache.Enabled)
        {
            return previous;
        }

        return async context =>
        {
            await previous(context);
            if (context.Result is null or { Succeeded: true }
                && context.SecurityToken is JsonWebToken token
                && context.Principal?.Identity is ClaimsIdentity { IsAuthenticated: true } identity
                && context.Principal.Identities.Count() == 1)
            {
                cache.Add(token, identity);
            }
        };
    }

    /// <summary>What <see cref="AuthenticationMiddleware"/> sets for a successful authentication; the result is built only if read.</summary>
    private sealed class VerifiedTokenFeature(ClaimsPrincipal user) : IHttpAuthenticationFeature, IAuthenticateResultFeature
    {
        private AuthenticateResult? _result;

        public ClaimsPrincipal? User
        {
            get => user;
            set
            {
                user = value!;
                _result = null;
            }
        }

        public AuthenticateResult? AuthenticateResult
        {
            get => _result ??= AuthenticateResult.Success(new AuthenticationTicket(user, JwtBearerDefaults.AuthenticationScheme));
            set => _result = value;
        }
    }
}
