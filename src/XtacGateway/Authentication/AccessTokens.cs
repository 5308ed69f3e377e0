using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;

namespace XtacGateway.Authentication;

/// <summary>What kind of Entra token a validated caller presented.</summary>
internal static class AccessTokens
{
    /// <summary>
    /// An app-only token: no scope, and either <c>idtyp</c> says <c>app</c> or the subject is the caller's own object
    /// ID (in Entra's app-only tokens <c>sub</c> equals <c>oid</c>; a user's tokens carry a pairwise <c>sub</c>).
    /// </summary>
    public static bool IsAppOnly(ClaimsPrincipal user)
    {
        if (user.FindFirst("scp") is not null)
        {
            return false;
        }

        if (user.FindFirstValue("idtyp") is { } type)
        {
            return string.Equals(type, "app", StringComparison.OrdinalIgnoreCase);
        }

        return user.FindFirstValue("oid") is { Length: > 0 } oid && string.Equals(oid, user.FindFirstValue("sub"), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Wraps <c>OnTokenValidated</c>: only access tokens are credentials for this API. Entra's access tokens name the
    /// client they were issued to (<c>azp</c> in v2, <c>appid</c> in v1) or carry a scope; its ID tokens do neither.
    /// Microsoft.Identity.Web lets any token with <c>roles</c> through, and an ID token of the same app registration
    /// carries the user's app roles under the same audience: it names the user to the app, and is no credential for
    /// calling it.
    /// </summary>
    public static Func<TokenValidatedContext, Task> RefuseOtherTokens(Func<TokenValidatedContext, Task> previous) => async context =>
    {
        await previous(context);
        if (context.Result is null && context.Principal is { } user
            && user.FindFirst("scp") is null && user.FindFirst("azp") is null && user.FindFirst("appid") is null)
        {
            context.Fail("The token has no 'scp' and names no client ('azp', 'appid'): an ID token, not an access token.");
        }
    };
}
