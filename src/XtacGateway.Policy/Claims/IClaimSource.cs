namespace XtacGateway.Policy.Claims;

/// <summary>
/// A token's claims, whatever carries them (a validated <c>ClaimsPrincipal</c>, a JSON object). A claim that
/// is a JSON array yields one value per element; booleans and numbers yield their JSON text; objects their raw JSON.
/// </summary>
public interface IClaimSource
{
    IEnumerable<string> GetValues(string claimType);
}
