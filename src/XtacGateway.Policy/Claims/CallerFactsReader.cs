using System.Text.Json;

namespace XtacGateway.Policy.Claims;

/// <summary>Turns a token's claims into <see cref="CallerFacts"/> (domain rules, section 6).</summary>
public sealed class CallerFactsReader(ClaimNames names)
{
    /// <summary>Microsoft accounts sign in through this tenant; it is not an organisation.</summary>
    public static readonly Guid ConsumerTenantId = new("9188040d-6c67-4c5b-b112-36a304b66dad");

    private static readonly string[] s_entraAuthorityHosts =
        ["sts.windows.net", "login.microsoftonline.com", "login.windows.net", "login.microsoft.com"];

    public ClaimNames Names => names;

    public CallerFacts Read(IClaimSource claims)
    {
        ArgumentNullException.ThrowIfNull(claims);

        var tenantText = First(claims, names.TenantId);
        if (!Guid.TryParse(tenantText, out var tokenTenant) || tokenTenant == Guid.Empty)
        {
            return new CallerFacts { Status = HomeTenantStatus.Unknown };
        }

        var home = tokenTenant;
        var isGuest = false;
        var idp = First(claims, names.IdentityProvider);

        // An idp that is the token's own issuer names no other tenant, whatever cloud's authority it is on: not a guest.
        if (!string.IsNullOrEmpty(idp) && !string.Equals(idp, First(claims, names.Issuer), StringComparison.OrdinalIgnoreCase))
        {
            if (TryGetEntraTenant(idp, out var idpTenant) is false)
            {
                // live.com, google.com, mail and the like: not an Entra organisation.
                return Unsupported(tokenTenant);
            }

            var issuerTenant = TryGetEntraTenant(First(claims, names.Issuer), out var iss) ? iss : tokenTenant;
            if (idpTenant != issuerTenant)
            {
                home = idpTenant;
                isGuest = true;
            }
        }

        if (home == ConsumerTenantId)
        {
            return Unsupported(tokenTenant);
        }

        var objectIdClaim = isGuest ? names.HomeObjectId : names.ObjectId;
        Guid? objectId = Guid.TryParse(First(claims, objectIdClaim), out var oid) ? oid : null;

        List<Guid>? groupList = null;
        var unreadableGroups = false;
        foreach (var value in claims.GetValues(names.Groups))
        {
            if (Guid.TryParse(value, out var group))
            {
                (groupList ??= []).Add(group);
            }
            else
            {
                // A group named by sAMAccountName, display name or SID (an app's groups claim setting) cannot be
                // matched against the policy's object IDs.
                unreadableGroups = true;
            }
        }

        // Overage means the groups claim is absent and a marker says where they would be.
        var overage = groupList is null && HasGroupOverage(claims);
        var groups = groupList?.ToArray() ?? [];

        var mfa = false;
        foreach (var method in claims.GetValues(names.AuthenticationMethods))
        {
            if (string.Equals(method, names.MfaMethod, StringComparison.OrdinalIgnoreCase))
            {
                mfa = true;
                break;
            }
        }

        return new CallerFacts
        {
            Status = HomeTenantStatus.Known,
            HomeTenantId = home,
            TokenTenantId = tokenTenant,
            IsGuest = isGuest,
            UserObjectId = objectId,
            Groups = groups,
            GroupsOverage = overage,
            GroupsUnreadable = unreadableGroups,
            MultifactorAuthenticated = mfa,
            CompliantDevice = IsTrue(First(claims, names.DeviceCompliant)),
            HybridJoinedDevice = string.Equals(First(claims, names.DeviceTrustType), names.HybridJoinedTrustType, StringComparison.OrdinalIgnoreCase),
        };
    }

    /// <summary>Reads the tenant GUID from an Entra authority such as <c>https://sts.windows.net/{tid}/</c>
    /// or <c>https://login.microsoftonline.com/{tid}/v2.0</c>.</summary>
    public static bool TryGetEntraTenant(string? authority, out Guid tenantId)
    {
        tenantId = Guid.Empty;
        if (!Uri.TryCreate(authority, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            return false;
        }

        if (Array.IndexOf(s_entraAuthorityHosts, uri.Host.ToLowerInvariant()) < 0)
        {
            return false;
        }

        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return segments.Length >= 1 && Guid.TryParse(segments[0], out tenantId) && tenantId != Guid.Empty;
    }

    private static CallerFacts Unsupported(Guid tokenTenant)
        => new() { Status = HomeTenantStatus.UnsupportedIdentityProvider, TokenTenantId = tokenTenant };

    private bool HasGroupOverage(IClaimSource claims)
    {
        if (IsTrue(First(claims, names.HasGroups)))
        {
            return true;
        }

        // Azure AD's overage marker: "_claim_names": { "groups": "src1" } and no groups claim.
        foreach (var value in claims.GetValues(names.OverageClaimNames))
        {
            if (value.Length == 0 || value[0] != '{')
            {
                continue;
            }

            try
            {
                using var json = JsonDocument.Parse(value);
                if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(names.Groups, out _))
                {
                    return true;
                }
            }
            catch (JsonException)
            {
                // A malformed marker says nothing about groups.
            }
        }

        return false;
    }

    private static bool IsTrue(string? value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

    private static string? First(IClaimSource claims, string claimType)
    {
        foreach (var value in claims.GetValues(claimType))
        {
            return value;
        }

        return null;
    }
}
