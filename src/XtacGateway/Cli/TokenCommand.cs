using System.Globalization;
using System.Security.Cryptography;
using XtacGateway.Authentication;

namespace XtacGateway.Cli;

/// <summary>
/// <c>token [--tenant GUID] [--oid GUID] [--group GUID]... [--amr VALUE]... [--wids GUID]... [--idp URL]
/// [--app GUID] [--role NAME]... [--claim NAME=VALUE]... [--expires-in SECONDS]</c>: prints only a JWT signed by the
/// development issuer's key, which every Development gateway on this machine trusts, whatever its port.
/// </summary>
internal static class TokenCommand
{
    /// <summary>The sample policy's allowed partner, so that a bare <c>token</c> gets in.</summary>
    public static readonly Guid DefaultTenant = new("bbbbbbbb-0000-4000-8000-000000000002");

    private static readonly HashSet<string> s_options = ["tenant", "oid", "group", "amr", "wids", "idp", "app", "role", "claim", "expires-in"];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = CommandOptions.Parse(args, s_options);
        var configuration = CommandLine.LoadConfiguration();
        var tenant = options.Guid("tenant") ?? DefaultTenant;
        var objectId = options.Guid("oid") ?? Guid.NewGuid();
        var lifetimeText = options.Single("expires-in") ?? "3600";
        if (!int.TryParse(lifetimeText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var lifetimeSeconds))
        {
            throw new UsageException($"option '--expires-in' must be a number of seconds, not '{lifetimeText}'.");
        }

        var audience = configuration["AzureAd:Audience"] ?? configuration["AzureAd:ClientId"]
            ?? throw new UsageException("no audience: set AzureAd:ClientId (or AzureAd:Audience) in appsettings.json.");

        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["iss"] = DevelopmentIssuer.IssuerFor(tenant),
            ["aud"] = audience,
            ["tid"] = tenant.ToString(),
            ["oid"] = objectId.ToString(),
            ["sub"] = objectId.ToString("N"),
            ["ver"] = "2.0",
            ["scp"] = "access_as_user",
            ["amr"] = ToList(options.All("amr"), ["pwd"]),
        };

        if (options.Guid("app") is { } client)
        {
            // An app's own token (client credentials), as Entra issues it: the client in 'azp', the service principal
            // as both 'oid' and 'sub', 'idtyp' app, and no scope or sign-in methods, since no user signed in.
            if (options.All("amr").Count > 0)
            {
                throw new UsageException("option '--amr' is for a user's token; an app-only token (--app) has no sign-in methods.");
            }

            claims.Remove("scp");
            claims.Remove("amr");
            claims["sub"] = objectId.ToString();
            claims["azp"] = client.ToString();
            claims["idtyp"] = "app";
        }

        if (options.All("role") is { Count: > 0 } roles)
        {
            claims["roles"] = roles.ToList<object>();
        }

        AddGuids(claims, "groups", options.All("group"), "--group");
        AddGuids(claims, "wids", options.All("wids"), "--wids");
        if (options.Single("idp") is { } idp)
        {
            claims["idp"] = idp;
        }

        foreach (var (name, values) in ParseClaims(options.All("claim")))
        {
            claims[name] = values.Count == 1 ? values[0] : values;
        }

        var keyPath = configuration[$"{GatewayOptions.Section}:DevelopmentIssuer:KeyPath"] ?? DevelopmentIssuer.DefaultKeyPath;
        DevelopmentIssuer issuer;
        try
        {
            issuer = DevelopmentIssuer.LoadOrCreate(keyPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or CryptographicException or InvalidOperationException)
        {
            stderr.WriteLine($"token: cannot read or create the development issuer's key file '{keyPath}' " +
                $"({GatewayOptions.Section}:DevelopmentIssuer:KeyPath): {ex.Message}");
            return CommandLine.Invalid;
        }

        var now = DateTimeOffset.UtcNow;
        var lifetime = TimeSpan.FromSeconds(lifetimeSeconds);
        // A negative lifetime mints an expired token (for trying out the 401 path); keep iat/nbf before exp.
        var issuedAt = lifetime < TimeSpan.Zero ? now.Add(lifetime).AddMinutes(-10) : now;
        stdout.WriteLine(issuer.Mint(claims, issuedAt, now.Add(lifetime) - issuedAt));
        return CommandLine.Success;
    }

    private static List<object> ToList(IReadOnlyList<string> values, string[] fallback)
        => values.Count > 0 ? [.. values] : [.. fallback];

    private static void AddGuids(Dictionary<string, object> claims, string name, IReadOnlyList<string> values, string option)
    {
        if (values.Count == 0)
        {
            return;
        }

        foreach (var value in values)
        {
            if (!Guid.TryParse(value, out _))
            {
                throw new UsageException($"option '{option}' must be a GUID, not '{value}'.");
            }
        }

        claims[name] = values.ToList<object>();
    }

    private static Dictionary<string, List<object>> ParseClaims(IReadOnlyList<string> pairs)
    {
        var claims = new Dictionary<string, List<object>>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"option '--claim' takes NAME=VALUE, not '{pair}'.");
            }

            var name = pair[..equals];
            var text = pair[(equals + 1)..];
            object value = text switch
            {
                "true" => true,
                "false" => false,
                _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer) => integer,
                // NaN and the infinities are not JSON numbers: they stay text.
                _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) => number,
                _ => text,
            };

            if (!claims.TryGetValue(name, out var list))
            {
                claims[name] = list = [];
            }

            list.Add(value);
        }

        return claims;
    }
}
