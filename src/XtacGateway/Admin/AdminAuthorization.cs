using System.Collections.Frozen;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using XtacGateway.Authentication;
using XtacGateway.Hosting;

namespace XtacGateway.Admin;

/// <summary>Entra directory roles (template IDs, as the <c>wids</c> claim carries them) and what each may do here.</summary>
internal static class AdminRoles
{
    public const string GlobalAdministrator = "62e90394-69f5-4237-9190-012177145e10";
    public const string SecurityAdministrator = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    public const string GlobalReader = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    public const string SecurityReader = "5d6b6bb7-de71-4623-b4af-96380a352509";
    public const string TeamsAdministrator = "69091246-20e8-4a56-aa4d-066075b2a7a8";

    public static readonly FrozenDictionary<string, string> Names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [GlobalAdministrator] = "Global Administrator",
        [SecurityAdministrator] = "Security Administrator",
        [GlobalReader] = "Global Reader",
        [SecurityReader] = "Security Reader",
        [TeamsAdministrator] = "Teams Administrator",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    public static readonly FrozenSet<string> Change = FrozenSet.Create(StringComparer.OrdinalIgnoreCase, GlobalAdministrator, SecurityAdministrator);

    public static readonly FrozenSet<string> Read = FrozenSet.Create(StringComparer.OrdinalIgnoreCase,
        GlobalAdministrator, SecurityAdministrator, GlobalReader, SecurityReader, TeamsAdministrator);
}

internal static class AdminPolicies
{
    public const string Read = "xtac-admin-read";
    public const string Change = "xtac-admin-change";
}

/// <summary>Read or change the policy: a directory role of the resource tenant itself, or a configured app role.</summary>
internal sealed record AdminRoleRequirement(bool Change) : IAuthorizationRequirement;

/// <summary>
/// Roles count only in tokens issued for the resource tenant (<c>tid</c> equals <c>Xtac:ResourceTenantId</c>): a Global
/// Administrator of a partner tenant administers that tenant, not this one.
/// </summary>
internal sealed class AdminRoleHandler(IOptions<GatewayOptions> gateway, IOptions<AdminOptions> admin) : AuthorizationHandler<AdminRoleRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AdminRoleRequirement requirement)
    {
        var user = context.User;
        var resourceTenant = gateway.Value.ResourceTenantId;
        var tid = user.FindFirstValue("tid");
        if (!Guid.TryParse(tid, out var tenant) || tenant != resourceTenant)
        {
            return Refuse($"Roles count only in tokens issued by this gateway's resource tenant {resourceTenant}; this token's tenant is {tid ?? "not named"}.");
        }

        // Directory roles count for a signed-in user: a delegated access token (it has a scope). A service principal
        // holding a directory role goes through the app roles below, as README says.
        var allowed = requirement.Change ? AdminRoles.Change : AdminRoles.Read;
        var action = requirement.Change ? "Changing" : "Reading";
        if (user.FindFirst("scp") is not null)
        {
            return user.FindAll("wids").Any(c => allowed.Contains(c.Value))
                ? Allow()
                : Refuse($"{action} the cross-tenant access policy needs one of these directory roles in the token's 'wids': {string.Join(", ", allowed.Select(r => AdminRoles.Names[r]).Order(StringComparer.Ordinal))}.");
        }

        // Application (app-only) tokens: an app role granted to the caller, in a token that is an app's own. A user
        // assigned the same app role must not pass for an app with a token that merely lacks a scope (an ID token).
        if (!AccessTokens.IsAppOnly(user))
        {
            return Refuse("The token has no 'scp' and is not an app's own token ('idtyp' app, or 'sub' equal to 'oid'): neither directory roles nor app roles count in it.");
        }

        var options = admin.Value;
        string[] appRoles = [.. (requirement.Change ? [options.ChangeAppRole] : new[] { options.ReadAppRole, options.ChangeAppRole }).OfType<string>().Where(r => r.Length > 0)];
        return user.FindAll("roles").Any(r => appRoles.Contains(r.Value, StringComparer.Ordinal)) ? Allow()
            : appRoles.Length == 0 ? Refuse($"{action} the cross-tenant access policy is granted to no app role here ({(requirement.Change ? "Xtac:Admin:ChangeAppRole is not set" : "neither Xtac:Admin:ReadAppRole nor Xtac:Admin:ChangeAppRole is set")}).")
            : Refuse($"{action} the cross-tenant access policy needs one of these app roles in the token's 'roles': {string.Join(", ", appRoles)}.");

        Task Allow()
        {
            context.Succeed(requirement);
            return Task.CompletedTask;
        }

        // The reason reaches the caller in the 403's problem details (GatewayAuthorizationResults), so that a wrong
        // admin call says what it lacks. Fail is a veto over any other handler of this requirement: there is none, and
        // these roles are the only way into the admin API.
        Task Refuse(string reason)
        {
            context.Fail(new CallerFacingFailureReason(this, reason));
            return Task.CompletedTask;
        }
    }
}

/// <summary>The admin API's settings: the <c>Xtac:Admin</c> section.</summary>
internal sealed class AdminOptions
{
    public const string Section = "Xtac:Admin";

    /// <summary>The audit file when the policy source is not Redis (JSON lines, append-only). Relative to the content root; unset means LocalApplicationData/XtacGateway/audit.jsonl.</summary>
    public string? AuditPath { get; set; }

    /// <summary>An app role (in app-only tokens' <c>roles</c>) that may read the policy; unset means none.</summary>
    public string? ReadAppRole { get; set; }

    /// <summary>An app role that may read and change the policy; unset means none.</summary>
    public string? ChangeAppRole { get; set; }
}
