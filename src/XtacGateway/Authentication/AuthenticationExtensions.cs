using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Identity.Web;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace XtacGateway.Authentication;

internal static class AuthenticationExtensions
{
    /// <summary>Tokens larger than this are refused before parsing; Entra's largest access tokens stay well below.</summary>
    private const int MaximumTokenSizeInBytes = 16 * 1024;

    private const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";

    /// <summary>
    /// Bearer authentication through Microsoft.Identity.Web against Entra's multi-tenant endpoint (the <c>AzureAd</c>
    /// section), plus the loopback issuer in Development.
    /// </summary>
    public static void AddXtacAuthentication(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var devIssuerEnabled = IsDevelopmentIssuerEnabled(builder.Configuration, builder.Environment);
        if (devIssuerEnabled)
        {
            var keyPath = builder.Configuration[$"{GatewayOptions.Section}:DevelopmentIssuer:KeyPath"] ?? DevelopmentIssuer.DefaultKeyPath;
            services.TryAddSingleton(_ => DevelopmentIssuer.LoadOrCreate(keyPath));

            // Registered before Microsoft.Identity.Web's JwtBearer so it runs before JwtBearer builds its configuration manager.
            services.AddSingleton<IPostConfigureOptions<JwtBearerOptions>, DevelopmentIssuerJwtBearerOptions>();
        }

        // Microsoft.Identity.Web checks the client ID only when the first request is authenticated, and then every
        // request fails with a 500: refused at start-up instead, by name.
        services.AddOptions<AudienceSettings>().BindConfiguration(AudienceSettings.Section)
            .Validate(a => !string.IsNullOrWhiteSpace(a.ClientId) || !string.IsNullOrWhiteSpace(a.Audience),
                $"'{AudienceSettings.Section}:ClientId' is empty: set the client ID of the app registration that callers' tokens are issued for (or '{AudienceSettings.Section}:Audience').")
            .Validate(a => builder.Environment.IsDevelopment() || !string.Equals(a.ClientId?.Trim(), AudienceSettings.SampleClientId, StringComparison.OrdinalIgnoreCase),
                $"'{AudienceSettings.Section}:ClientId' is the sample app registration of the repository's appsettings.json " +
                $"({AudienceSettings.SampleClientId}), which no Entra tenant issues tokens for: outside Development, set your own.")
            .ValidateOnStart();
        services.AddOptions<SigningKeyOptions>().BindConfiguration(SigningKeyOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<TokenCacheOptions>().BindConfiguration(TokenCacheOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<SigningKeyManager>();
        services.AddHostedService<SigningKeyWarmUp>();
        services.TryAddSingleton<VerifiedTokenCache>();
        services.AddSingleton<IPostConfigureOptions<JwtBearerOptions>, SigningKeyJwtBearerOptions>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme)
            .AddMicrosoftIdentityWebApi(builder.Configuration.GetSection("AzureAd"));

        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).PostConfigure<VerifiedTokenCache, SigningKeyManager, IOptions<GatewayOptions>>((options, cache, keys, gateway) =>
        {
            // Caller facts read raw claim names (tid, oid, amr...), never the WS-Federation URIs.
            options.MapInboundClaims = false;
            if (gateway.Value.Authentication.ClockSkew is { } skew)
            {
                options.TokenValidationParameters.ClockSkew = skew;
            }

            for (var i = 0; i < options.TokenHandlers.Count; i++)
            {
                if (options.TokenHandlers[i] is JsonWebTokenHandler handler)
                {
                    options.TokenHandlers[i] = new KeyRefreshingTokenHandler(handler, keys);
                }
            }

            // Registered after Microsoft.Identity.Web's own post-configuration, so this wrapper is the outermost.
            options.Events ??= new JwtBearerEvents();
            options.Events.OnTokenValidated = VerifiedTokenAuthenticationMiddleware.CacheWhenAccepted(AccessTokens.RefuseOtherTokens(options.Events.OnTokenValidated), cache);
            options.Events.OnAuthenticationFailed = SigningKeysUnavailableResponse.NoResultWhenUnavailable(options.Events.OnAuthenticationFailed);
            options.Events.OnChallenge = SigningKeysUnavailableResponse.AnswerWhenUnavailable(options.Events.OnChallenge);

            // JwtBearer hands token handlers the issuer's metadata only through a BaseConfigurationManager, which the
            // signing key manager is not. Microsoft.Identity.Web's check that a key bound to one tenant's issuer signs
            // only that tenant's tokens would then get no metadata and let every key through.
            if (options.TokenValidationParameters.IssuerSigningKeyValidatorUsingConfiguration is { } keyIssuerValidator)
            {
                options.TokenValidationParameters.IssuerSigningKeyValidatorUsingConfiguration = (key, token, parameters, configuration) =>
                {
                    configuration ??= keys.Current;
                    if (configuration is OpenIdConnectConfiguration { JsonWebKeySet: { } published } && key.KeyId is { } kid
                        && !published.Keys.Any(k => k.Kid == kid))
                    {
                        // The check passes a key it cannot find in the metadata. This one was removed by a refresh while
                        // the token was being validated: refuse it, as the next request would.
                        return false;
                    }

                    return keyIssuerValidator(key, token, parameters, configuration);
                };
            }

            options.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512, SecurityAlgorithms.RsaSsaPssSha256];
            options.TokenValidationParameters.RequireExpirationTime = true;
            options.TokenValidationParameters.RequireSignedTokens = true;

            // Entra names its key in every token. A token naming no published key is refused, not checked against every
            // key in turn (one RSA verification each, for every forged token).
            options.TokenValidationParameters.TryAllIssuerSigningKeys = false;
            foreach (var handler in options.TokenHandlers)
            {
                handler.MaximumTokenSizeInBytes = MaximumTokenSizeInBytes;
                if (handler is KeyRefreshingTokenHandler refreshing)
                {
                    refreshing.MapInboundClaims = false;
                }
            }
        });
    }

    /// <summary>
    /// In place of <c>UseAuthentication()</c>: cached tokens are answered before JwtBearer, the rest authenticate as usual.
    /// </summary>
    public static IApplicationBuilder UseXtacAuthentication(this IApplicationBuilder app)
    {
        // The marker UseAuthentication() leaves: without it, WebApplication adds the framework middleware a second time.
        app.Properties[AuthenticationMiddlewareSetKey] = true;
        return app.UseMiddleware<VerifiedTokenAuthenticationMiddleware>();
    }

    /// <summary>Development only; switching it on elsewhere is refused at start-up, naming the setting.</summary>
    public static bool IsDevelopmentIssuerEnabled(IConfiguration configuration, IHostEnvironment environment)
    {
        const string Setting = $"{GatewayOptions.Section}:DevelopmentIssuer:Enabled";
        var configured = configuration.GetValue<bool?>(Setting);
        if (configured is true && !environment.IsDevelopment())
        {
            throw new InvalidOperationException(
                $"'{Setting}' is true but the environment is '{environment.EnvironmentName}': the development issuer would let anyone mint trusted tokens, so it runs only in Development.");
        }

        return configured ?? environment.IsDevelopment();
    }

    public static void MapDevelopmentIssuer(this IEndpointRouteBuilder endpoints)
    {
        if (endpoints.ServiceProvider.GetService<DevelopmentIssuer>() is null)
        {
            return;
        }

        var group = endpoints.MapGroup(DevelopmentIssuer.PathPrefix).AllowAnonymous();
        group.MapGet("/{tenant}/v2.0/.well-known/openid-configuration", (HttpContext context, DevelopmentIssuer issuer)
            => Results.Text(issuer.DiscoveryDocument(BaseUrl(context), v2: true), "application/json"));
        group.MapGet("/{tenant}/.well-known/openid-configuration", (HttpContext context, DevelopmentIssuer issuer)
            => Results.Text(issuer.DiscoveryDocument(BaseUrl(context), v2: false), "application/json"));
        group.MapGet("/discovery/v2.0/keys", (DevelopmentIssuer issuer) =>
        {
            try
            {
                return Results.Text(issuer.KeySetDocument(), "application/json");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or CryptographicException or ArgumentException)
            {
                return Results.Problem(ex.Message, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Development issuer unavailable");
            }
        });
    }

    /// <summary>Hands JwtBearer the gateway's own signing key manager, pointed at the configured metadata.</summary>
    private sealed class SigningKeyJwtBearerOptions(SigningKeyManager keys) : IPostConfigureOptions<JwtBearerOptions>
    {
        public void PostConfigure(string? name, JwtBearerOptions options)
        {
            if (name != JwtBearerDefaults.AuthenticationScheme || options.ConfigurationManager is not null)
            {
                return;
            }

            var metadata = !string.IsNullOrEmpty(options.MetadataAddress)
                ? options.MetadataAddress
                : $"{options.Authority?.TrimEnd('/')}/.well-known/openid-configuration";
            var backchannel = new HttpClient(options.BackchannelHttpHandler ?? new HttpClientHandler()) { Timeout = options.BackchannelTimeout };
            backchannel.DefaultRequestHeaders.UserAgent.ParseAdd("XtacGateway");
            keys.Attach(metadata, backchannel, options.RequireHttpsMetadata);
            options.ConfigurationManager = keys;
        }
    }

    private static string BaseUrl(HttpContext context) => $"{context.Request.Scheme}://{context.Request.Host}";

    /// <summary>Points JwtBearer at the loopback issuer this very process serves, through the ordinary metadata and JWKS path.</summary>
    private sealed class DevelopmentIssuerJwtBearerOptions(Hosting.ListenerEndpoints listeners) : IPostConfigureOptions<JwtBearerOptions>
    {
        public void PostConfigure(string? name, JwtBearerOptions options)
        {
            if (name != JwtBearerDefaults.AuthenticationScheme)
            {
                return;
            }

            var proxy = listeners.ProxyUrls.FirstOrDefault()
                ?? throw new InvalidOperationException("The development issuer serves its keys from the proxy listener, and none is listening.");
            var authority = $"{proxy}{DevelopmentIssuer.PathPrefix}/organizations/v2.0";
            options.Authority = authority;
            options.MetadataAddress = $"{authority}/.well-known/openid-configuration";
            options.RequireHttpsMetadata = false;

            // Entra's multi-tenant issuer shape: the templates are checked against each token's own tid.
            options.TokenValidationParameters.ValidIssuers = [DevelopmentIssuer.IssuerTemplateV2, DevelopmentIssuer.IssuerTemplateV1];
        }
    }
}

/// <summary>The <c>AzureAd</c> settings that name the audience; Microsoft.Identity.Web reads the section itself.</summary>
internal sealed class AudienceSettings
{
    public const string Section = "AzureAd";

    /// <summary>The client ID in the repository's appsettings.json, for the development issuer's tokens.</summary>
    public const string SampleClientId = "5e1f7c3a-0000-4000-8000-00000000a11d";

    public string? ClientId { get; set; }

    public string? Audience { get; set; }
}
