using System.Runtime.CompilerServices;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using XtacGateway.Observability;
using XtacGateway.Policy.Claims;

namespace XtacGateway.Enforcement;

/// <summary>Caller facts plus the header and log text derived from them, computed once per verified token.</summary>
internal sealed class CallerContext(CallerFacts facts, string? homeTenantText, string? userObjectIdText, string? logUser)
{
    public CallerFacts Facts { get; } = facts;
    public string? HomeTenantText { get; } = homeTenantText;
    public string? UserObjectIdText { get; } = userObjectIdText;

    /// <summary>The user as decision logs may show it: a keyed hash unless configured otherwise.</summary>
    public string? LogUser { get; } = logUser;
}

/// <summary>
/// Reads caller facts from a validated identity. The verified-token cache hands out the same identity for the
/// same token, so facts are attached to it and read once per token rather than once per request.
/// </summary>
internal sealed class CallerContextProvider
{
    private readonly ConditionalWeakTable<ClaimsIdentity, CallerContext> _byIdentity = [];
    private readonly CallerFactsReader _reader;
    private readonly LoggedUserIds _loggedUserIds;
    private readonly ConditionalWeakTable<ClaimsIdentity, CallerContext>.CreateValueCallback _create;

    public CallerContextProvider(IOptions<GatewayOptions> gateway, LoggedUserIds loggedUserIds)
    {
        _reader = new CallerFactsReader(gateway.Value.Claims);
        _loggedUserIds = loggedUserIds;

        // Built once: a lambda over 'this' would otherwise allocate a delegate on every request.
        _create = identity => Create(new ClaimsPrincipal(identity));
    }

    public CallerContext Get(ClaimsPrincipal principal)
    {
        if (principal.Identity is ClaimsIdentity identity)
        {
            return _byIdentity.GetValue(identity, _create);
        }

        return Create(principal);
    }

    private CallerContext Create(ClaimsPrincipal principal)
    {
        var facts = _reader.Read(new ClaimsPrincipalClaimSource(principal));
        var home = facts.Status == HomeTenantStatus.Known ? facts.HomeTenantId.ToString() : null;
        var user = facts.UserObjectId?.ToString();
        return new CallerContext(facts, home, user, user is null ? null : _loggedUserIds.Format(user));
    }
}
