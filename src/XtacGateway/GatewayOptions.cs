using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using XtacGateway.Policy.Claims;

namespace XtacGateway;

/// <summary>The gateway's own settings: the <c>Xtac</c> configuration section.</summary>
internal sealed class GatewayOptions : IValidatableObject
{
    public const string Section = "Xtac";

    /// <summary>The organisation whose apps the gateway protects; its users are internal callers.</summary>
    [Required(ErrorMessage = $"'{Section}:ResourceTenantId' is not set: set the tenant ID of the organisation whose apps the gateway protects.")]
    public Guid? ResourceTenantId { get; set; }

    [ValidateObjectMembers]
    public PolicyOptions Policy { get; set; } = new();

    public IdentityHeaderOptions Headers { get; set; } = new();

    public PathOptions Paths { get; set; } = new();

    /// <summary>Claim names for each caller fact (section 6 of the rule book); every one may be renamed.</summary>
    public ClaimNames Claims { get; set; } = new();

    public DevelopmentIssuerOptions DevelopmentIssuer { get; set; } = new();

    public SampleAppOptions SampleApp { get; set; } = new();

    [ValidateObjectMembers]
    public TokenValidationOptions Authentication { get; set; } = new();

    [ValidateObjectMembers]
    public ShutdownOptions Shutdown { get; set; } = new();

    /// <summary>
    /// What is wrong with claim names, for the gateway and the <c>evaluate</c> command alike: an empty name matches no
    /// claim, or an empty value (<c>"device_trust_type": ""</c> would pass for hybrid joined).
    /// </summary>
    public static IEnumerable<string> ClaimNameErrors(ClaimNames claims)
        => typeof(ClaimNames).GetProperties()
            .Where(p => p.PropertyType == typeof(string) && p.CanWrite && string.IsNullOrWhiteSpace((string?)p.GetValue(claims)))
            .Select(p => $"'{Section}:Claims:{p.Name}' is empty: give a claim name (or value) or leave it unset for the default.");

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var error in ClaimNameErrors(Claims))
        {
            yield return new ValidationResult(error, [nameof(Claims)]);
        }

        // A template's placeholder: no token carries it, so no caller would be internal and no admin could sign in.
        if (ResourceTenantId == Guid.Empty)
        {
            yield return new ValidationResult(
                $"'{Section}:ResourceTenantId' is the empty GUID: set the tenant ID of the organisation whose apps the gateway protects.",
                [nameof(ResourceTenantId)]);
        }
    }
}

internal sealed class TokenValidationOptions
{
    /// <summary>
    /// The leeway on a token's <c>nbf</c> and <c>exp</c>; unset, JwtBearer's 5 minutes. Bounded: a day of leeway would
    /// accept tokens a day after they expired.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan? ClockSkew { get; set; }
}

internal sealed class PolicyOptions
{
    /// <summary>The policy document (Graph's JSON). Relative paths are taken from the content root.</summary>
    public string? Path { get; set; }

    /// <summary>How often the file is checked for changes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan FileCheckInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How often the file is read and compared even when its time and length look unchanged: a replacement of the same
    /// length written within one clock tick, or copied with its time kept, is seen within this.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan FileContentCheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long the watcher gives a file written over in place (cat >, kubectl cp) to be finished: one that reads as
    /// invalid within this of its last write, or changed while read, is read again at the next check, for about this
    /// long at most (a check interval more), before it is rejected. Zero judges every read as it is.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan FileWriteSettle { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Readiness fails when the source has not confirmed the policy in force for this long; at least twice the source's
    /// check interval (<see cref="PolicyFreshnessValidator"/>).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "30.00:00:00")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromMinutes(10);
}

internal sealed class IdentityHeaderOptions
{
    /// <summary>Remove the caller's <c>Authorization</c> header before forwarding.</summary>
    public bool StripAuthorization { get; set; }

    /// <summary>
    /// Further incoming headers removed before forwarding (every <c>X-Xtac-*</c> header always is). Configured names are
    /// appended to these defaults by the configuration binder, so these always go: App Service's principal and, from its
    /// token store, the caller's tokens (an app once behind App Service may still read them); and the headers by which
    /// IIS's URL Rewrite and some frameworks (Symfony, Zend) serve another path than the one the gateway routed and
    /// decided for.
    /// </summary>
    public string[] Remove { get; set; } =
    [
        "X-MS-CLIENT-PRINCIPAL", "X-MS-CLIENT-PRINCIPAL-ID", "X-MS-CLIENT-PRINCIPAL-NAME", "X-MS-CLIENT-PRINCIPAL-IDP",
        "X-MS-TOKEN-AAD-ID-TOKEN", "X-MS-TOKEN-AAD-ACCESS-TOKEN", "X-MS-TOKEN-AAD-EXPIRES-ON", "X-MS-TOKEN-AAD-REFRESH-TOKEN",
        "X-Original-URL", "X-Rewrite-URL",
    ];
}

internal sealed class ShutdownOptions
{
    /// <summary>
    /// How long a stopping gateway keeps serving with readiness failed, before its listeners close. Zero closes them at
    /// once; behind a load balancer, give it at least the balancer's probe interval times its failure threshold.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan DrainDelay { get; set; }
}

internal sealed class PathOptions
{
    /// <summary>
    /// Answer 400 to a path an upstream may read as another one (<c>//</c>, an encoded <c>/</c> or <c>\</c>, a
    /// backslash, a <c>;</c> parameter), so that no request reaches an app under a route other than its own.
    /// </summary>
    public bool RejectAmbiguous { get; set; } = true;

    /// <summary>
    /// With <see cref="RejectAmbiguous"/>, also answer 400 to a path with a segment ending in '.' or ' ', which Windows
    /// trims from file names. Off for apps whose paths end so (DNS names with their root dot) behind no Windows file server.
    /// </summary>
    public bool RejectTrailingDotOrSpace { get; set; } = true;
}

internal sealed class DevelopmentIssuerOptions
{
    /// <summary>Serve and trust the loopback issuer. Unset means "in Development only"; true outside Development refuses to start.</summary>
    public bool? Enabled { get; set; }

    /// <summary>The key file shared by every instance and the <c>token</c> command.</summary>
    public string? KeyPath { get; set; }
}

internal sealed class SampleAppOptions
{
    /// <summary>Start the sample internal app with the gateway. Unset means "in Development only".</summary>
    public bool? Enabled { get; set; }

    public string Url { get; set; } = "http://127.0.0.1:5090";
}
