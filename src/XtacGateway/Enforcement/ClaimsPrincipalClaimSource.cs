using System.Security.Claims;
using XtacGateway.Policy.Claims;

namespace XtacGateway.Enforcement;

/// <summary>The claims of a validated token; JSON arrays arrive as one claim per element.</summary>
internal sealed class ClaimsPrincipalClaimSource(ClaimsPrincipal principal) : IClaimSource
{
    public IEnumerable<string> GetValues(string claimType)
    {
        foreach (var claim in principal.Claims)
        {
            if (string.Equals(claim.Type, claimType, StringComparison.Ordinal))
            {
                yield return claim.Value;
            }
        }
    }
}
