using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace XtacGateway.Policies;

/// <summary>Where the policy comes from: the <c>Xtac:Policy</c> section (the same section as <see cref="PolicyOptions"/>).</summary>
internal sealed class PolicySourceOptions : IValidatableObject
{
    public const string Section = "Xtac:Policy";

    /// <summary><c>File</c> (default), <c>Redis</c> or <c>Graph</c>.</summary>
    public PolicySourceKind Source { get; set; } = PolicySourceKind.File;

    /// <summary>
    /// Where the Redis and Graph sources keep the last good document, so a restart while the source is unreachable starts
    /// with it. Relative paths are taken from the content root; unset means LocalApplicationData/XtacGateway.
    /// </summary>
    public string? LastKnownGoodPath { get; set; }

    [ValidateObjectMembers]
    public RedisPolicySourceOptions Redis { get; set; } = new();

    [ValidateObjectMembers]
    public GraphPolicySourceOptions Graph { get; set; } = new();

    /// <summary>The first wait after a failed read of the source; doubled on each failure up to <see cref="RetryMaxDelay"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the configured source is asked whether the policy in force is still its newest.</summary>
    public TimeSpan CheckInterval(PolicyOptions policy) => Source switch
    {
        PolicySourceKind.Redis => Redis.CheckInterval,
        PolicySourceKind.Graph => Graph.RefreshInterval,
        _ => policy.FileCheckInterval,
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryMinDelay > RetryMaxDelay)
        {
            yield return new ValidationResult(
                $"{Section}:{nameof(RetryMinDelay)} ({RetryMinDelay}) is longer than {Section}:{nameof(RetryMaxDelay)} ({RetryMaxDelay}).",
                [nameof(RetryMinDelay), nameof(RetryMaxDelay)]);
        }
    }

    /// <summary>
    /// Which shared policy this is: gateways of one fleet share it; another fleet (another Redis server, database or key
    /// prefix; another Graph address) does not. No secret goes into it.
    /// </summary>
    public string OriginIn(IConfiguration configuration) => Source switch
    {
        PolicySourceKind.Redis => $"redis {RedisServers(configuration)} {Redis.KeyPrefix}",
        PolicySourceKind.Graph => $"graph {Graph.BaseUrl}",
        _ => "file",
    };

    /// <summary>
    /// The configured path, or by default one file per resource tenant and <see cref="Origin"/>: two fleets on one host
    /// never restore each other's policy.
    /// </summary>
    public string ResolveLastKnownGoodPath(string contentRoot, Guid? resourceTenant, string origin) => LastKnownGoodPath switch
    {
        null or "" => Path.Combine(
            Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
            "XtacGateway", $"policy-last-known-good-{Source.ToString().ToLowerInvariant()}-{FleetFingerprint(resourceTenant, origin)}.json"),
        var configured when Path.IsPathRooted(configured) => configured,
        var configured => Path.GetFullPath(Path.Combine(contentRoot, configured)),
    };

    private static string FleetFingerprint(Guid? resourceTenant, string origin)
        => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{resourceTenant} {origin}")))[..12];

    private static string RedisServers(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(RedisConnection.ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return "(none)";
        }

        var options = StackExchange.Redis.ConfigurationOptions.Parse(connectionString);
        return $"{string.Join(",", options.EndPoints.Select(e => e.ToString()).Order(StringComparer.Ordinal))}/{options.DefaultDatabase ?? 0}";
    }
}

internal enum PolicySourceKind
{
    File,
    Redis,
    Graph,
}

internal sealed class RedisPolicySourceOptions
{
    /// <summary>Prefix of every key and of the channel, so several gateways (fleets) can share one Redis.</summary>
    [Required]
    public string KeyPrefix { get; set; } = "xtac:policy";

    /// <summary>How often each instance compares its version with Redis's, in case a pub/sub message was missed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long start-up keeps trying to reach Redis before starting from the last known good policy instead. A slow
    /// first connection (a handshake that outlasts the connect timeout) would otherwise start an instance degraded,
    /// without its policy, next to a Redis that is up.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan StartupWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long old audit entries are kept: the stream is trimmed to about this many entries.</summary>
    [Range(100, 100_000_000)]
    public int AuditMaxEntries { get; set; } = 1_000_000;

    /// <summary>
    /// How often each instance looks for policy documents no pointer names (left by a change whose answer never came, or
    /// by a crash between storing a document and naming it) and deletes those it also found at its previous look.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan DocumentSweepInterval { get; set; } = TimeSpan.FromMinutes(10);
}

internal sealed class GraphPolicySourceOptions
{
    /// <summary>Microsoft Graph's base address; tests point it at a fake Graph on loopback.</summary>
    [Required]
    public Uri BaseUrl { get; set; } = new("https://graph.microsoft.com/v1.0/");

    /// <summary>The app-only scope requested through Microsoft.Identity.Web (needs Policy.Read.All as an application permission).</summary>
    [Required]
    public string Scope { get; set; } = "https://graph.microsoft.com/.default";

    /// <summary>How often the policy is pulled from Graph (also on demand: <c>POST /admin/policies/reload</c>).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "1.00:00:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long start-up waits for the first whole pull before starting from the last known good policy (or none), while
    /// the pull goes on in the background. A large tenant's pages under throttling can take minutes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan StartupWait { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long one whole pull may take, throttling waits included, before it is given up and counted as a failure (the
    /// next comes with backoff). Without it, a Graph (or a proxy before it) that never stops linking to new pages would
    /// hold the pull, and with it every reload, for ever, while no failure was ever reported.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan PullTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest <c>Retry-After</c> honoured before giving up this pull (the next pull comes with backoff).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Development and tests only: a fixed bearer token sent to <see cref="BaseUrl"/> instead of one acquired from Entra.
    /// Refused at start-up outside the Development environment.
    /// </summary>
    public string? DevelopmentBearerToken { get; set; }
}

/// <summary>
/// <c>Xtac:Policy:MaxAge</c> against the configured source's check interval: a bound shorter than two checks would
/// report a healthy source's policy stale between one check and the next.
/// </summary>
internal sealed class PolicyFreshnessValidator(IOptions<PolicySourceOptions> sources) : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var source = sources.Value;
        var interval = source.CheckInterval(options.Policy);
        return options.Policy.MaxAge >= 2 * interval
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{PolicySourceOptions.Section}:MaxAge ({options.Policy.MaxAge}) must be at least twice the {source.Source} source's check interval ({interval}), or readiness fails between two checks.");
    }
}
