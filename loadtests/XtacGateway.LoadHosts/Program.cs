using XtacGateway.Authentication;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;
using XtacGateway.LoadTests;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;
using Yarp.ReverseProxy.Configuration;

// One executable, one mode per process:
//   backend     --urls URL                                   a trivial upstream answering 200 "ok"
//   plain-yarp  --urls URL --backend URL                     YARP with the gateway's route configuration
//   jwt-yarp    --urls URL --backend URL --key FILE          the same plus per-request JwtBearer and a route authorization policy
//   otlp-sink   --urls URL                                   accepts OTLP/HTTP exports (/v1/traces, /v1/metrics, /v1/logs) and discards them
//   mint        --key FILE --count N --out FILE [--lifetime SECONDS]   pre-minted tokens for the wrk scripts
//   policy      --partners N --out FILE [--spare]            a generated policy document holding the test tenants
//   report      --work DIR --out FILE --markdown FILE ...    the table and JSON of one run (used by run.sh)
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: XtacGateway.LoadHosts backend|plain-yarp|jwt-yarp|otlp-sink|mint|policy [options]");
    return 2;
}

var mode = args[0];
var rest = args[1..];
switch (mode)
{
    case "backend":
        await Hosts.RunBackendAsync(rest);
        return 0;
    case "plain-yarp":
        await Hosts.RunYarpAsync(rest, jwt: false);
        return 0;
    case "jwt-yarp":
        await Hosts.RunYarpAsync(rest, jwt: true);
        return 0;
    case "otlp-sink":
        await Hosts.RunOtlpSinkAsync(rest);
        return 0;
    case "mint":
        return Tools.Mint(rest);
    case "policy":
        return Tools.WritePolicy(rest);
    case "report":
        return Report.Write(rest);
    default:
        Console.Error.WriteLine($"unknown mode '{mode}'");
        return 2;
}

internal static class Options
{
    public static string? Get(string[] args, string name)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == $"--{name}" && i + 1 < args.Length)
            {
                return args[i + 1];
            }

            if (args[i].StartsWith($"--{name}=", StringComparison.Ordinal))
            {
                return args[i][(name.Length + 3)..];
            }
        }

        return null;
    }

    public static string Required(string[] args, string name) => Get(args, name) ?? throw new ArgumentException($"missing --{name}");

    public static bool Flag(string[] args, string name) => args.Contains($"--{name}");
}

internal static class Hosts
{
    /// <summary>The gateway's audience (appsettings.json's AzureAd:ClientId).</summary>
    public const string Audience = AudienceSettings.SampleClientId;

    private static readonly byte[] s_ok = "ok"u8.ToArray();

    private static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

        // Only the command line: the gateway's appsettings.json (copied here by the project reference) must not leak in.
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddCommandLine(args);
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        return builder;
    }

    public static async Task RunBackendAsync(string[] args)
    {
        var app = CreateBuilder(args).Build();
        app.Run(context =>
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/plain";
            context.Response.ContentLength = s_ok.Length;
            return context.Response.Body.WriteAsync(s_ok).AsTask();
        });
        await app.RunAsync();
    }

    /// <summary>Stands in for an OpenTelemetry collector: reads each export and answers OTLP's empty success response.</summary>
    public static async Task RunOtlpSinkAsync(string[] args)
    {
        var app = CreateBuilder(args).Build();
        long exports = 0, bytes = 0;
        app.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                Interlocked.Add(ref bytes, read);
            }

            Interlocked.Increment(ref exports);
            context.Response.ContentType = "application/x-protobuf";
        });
        app.MapGet("/stats", () => new { exports = Interlocked.Read(ref exports), bytes = Interlocked.Read(ref bytes) });
        await app.RunAsync();
    }

    public static async Task RunYarpAsync(string[] args, bool jwt)
    {
        var backend = Options.Required(args, "backend");
        var builder = CreateBuilder(args);
        var policy = jwt ? "partner-token" : null;

        // The routes of the repository's appsettings.json, minus the Xtac metadata.
        RouteConfig[] routes =
        [
            new() { RouteId = "sample-app", ClusterId = "sample-app", Match = new RouteMatch { Path = "/{**catch-all}" }, AuthorizationPolicy = policy },
            new() { RouteId = "sample-app-secure", ClusterId = "sample-app", Match = new RouteMatch { Path = "/secure/{**catch-all}" }, AuthorizationPolicy = policy },
        ];
        ClusterConfig[] clusters =
        [
            new() { ClusterId = "sample-app", Destinations = new Dictionary<string, DestinationConfig> { ["sample"] = new() { Address = backend } } },
        ];
        builder.Services.AddReverseProxy().LoadFromMemory(routes, clusters);

        if (jwt)
        {
            var keys = DevelopmentIssuerKeys.Load(Options.Required(args, "key"));
            builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
            {
                options.MapInboundClaims = false;
                options.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuers = [DevelopmentIssuer.IssuerFor(LoadTestPolicy.AllowedPartner), DevelopmentIssuer.IssuerFor(LoadTestPolicy.BlockedPartner)],
                    ValidAudience = Audience,
                    IssuerSigningKeys = keys,
                    ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
                    RequireExpirationTime = true,
                    RequireSignedTokens = true,
                };
            });
            builder.Services.AddAuthorization(options => options.AddPolicy("partner-token", p => p.RequireAuthenticatedUser().RequireClaim("scp", "access_as_user")));
        }

        var app = builder.Build();
        if (jwt)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        // The runtime's GC work so far, "pause-seconds gen0 gen1 gen2" with each collection counted in its own generation
        // as the gateway's dotnet.gc.collections does: run.sh reads it around the measured rounds, as it reads the gateway's
        // /metrics. A literal path outranks the catch-all route, and no load-test request comes here.
        app.MapGet("/.load-hosts/gc", () => string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{GC.GetTotalPauseDuration().TotalSeconds} {GC.CollectionCount(0) - GC.CollectionCount(1)} {GC.CollectionCount(1) - GC.CollectionCount(2)} {GC.CollectionCount(2)}"));
        app.MapReverseProxy();
        await app.RunAsync();
    }
}

/// <summary>The development issuer's public keys, as the gateway publishes them in its JWKS.</summary>
internal static class DevelopmentIssuerKeys
{
    public static SecurityKey[] Load(string keyPath)
        => [.. DevelopmentIssuer.LoadOrCreate(keyPath).Keys.Select(k => new RsaSecurityKey(new System.Security.Cryptography.RSAParameters { Modulus = k.Parameters.Modulus, Exponent = k.Parameters.Exponent }) { KeyId = k.KeyId })];
}

internal static class Tools
{
    /// <summary>
    /// Writes <c>kind path token</c> lines. Every run of ten holds the mix: seven allowed (one of them through
    /// the MFA-gated route with mfa in amr), two from a blocked partner, one without MFA on the MFA-gated route.
    /// </summary>
    public static int Mint(string[] args)
    {
        var issuer = DevelopmentIssuer.LoadOrCreate(Options.Required(args, "key"));
        var count = int.Parse(Options.Get(args, "count") ?? "1000", System.Globalization.CultureInfo.InvariantCulture);
        var lifetime = TimeSpan.FromSeconds(int.Parse(Options.Get(args, "lifetime") ?? "7200", System.Globalization.CultureInfo.InvariantCulture));
        var now = DateTimeOffset.UtcNow;
        var output = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            var (kind, tenant, path, amr) = (i % 10) switch
            {
                < 6 => ("allowed", LoadTestPolicy.AllowedPartner, $"/items/{i}", new object[] { "pwd" }),
                6 => ("allowed-mfa", LoadTestPolicy.AllowedPartner, $"/secure/items/{i}", new object[] { "pwd", "mfa" }),
                7 or 8 => ("blocked", LoadTestPolicy.BlockedPartner, $"/items/{i}", new object[] { "pwd", "mfa" }),
                _ => ("mfa-required", LoadTestPolicy.AllowedPartner, $"/secure/items/{i}", new object[] { "pwd" }),
            };
            var oid = new Guid($"0000{i:x4}-0000-4000-8000-00000000ab{i % 256:x2}");
            var claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["iss"] = DevelopmentIssuer.IssuerFor(tenant),
                ["aud"] = Hosts.Audience,
                ["tid"] = tenant.ToString(),
                ["oid"] = oid.ToString(),
                ["sub"] = oid.ToString("N"),
                ["ver"] = "2.0",
                ["scp"] = "access_as_user",
                ["amr"] = amr.ToList(),
            };
            output.Append(kind).Append(' ').Append(path).Append(' ').Append(issuer.Mint(claims, now, lifetime)).Append('\n');
        }

        File.WriteAllText(Options.Required(args, "out"), output.ToString());
        return 0;
    }

    public static int WritePolicy(string[] args)
    {
        var partners = int.Parse(Options.Get(args, "partners") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var document = LoadTestPolicy.Build(partners, withSpare: Options.Flag(args, "spare"));
        var result = PolicyParser.Validate(document, LoadTestPolicy.ResourceTenant);
        if (!result.IsValid)
        {
            foreach (var error in result.Errors.Take(20))
            {
                Console.Error.WriteLine(error);
            }

            return 1;
        }

        File.WriteAllBytes(Options.Required(args, "out"), PolicyWriter.WriteUtf8(document, indented: false));
        return 0;
    }
}
