using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Identity.Web;
using Microsoft.Identity.Web.TokenCacheProviders.InMemory;

namespace XtacGateway.Policies;

internal static class PolicySourceExtensions
{
    /// <summary>Registers the policy source chosen by <c>Xtac:Policy:Source</c> (File, Redis or Graph) as <see cref="IPolicySource"/> and a hosted service.</summary>
    public static WebApplicationBuilder AddXtacPolicySources(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<PolicySourceOptions>().BindConfiguration(PolicySourceOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GatewayOptions>, PolicyFreshnessValidator>());
        var kind = builder.Configuration.GetValue<PolicySourceKind?>($"{PolicySourceOptions.Section}:Source") ?? PolicySourceKind.File;
        switch (kind)
        {
            case PolicySourceKind.File:
                AddSource<FilePolicySource>(services);
                break;

            case PolicySourceKind.Redis:
                services.TryAddSingleton<RedisConnection>();
                services.TryAddSingleton<LastKnownGoodStore>();
                services.AddStackExchangeRedisCache(_ => { });
                // The cache rides on the same multiplexer as pub/sub and the audit stream.
                services.AddOptions<RedisCacheOptions>().Configure<RedisConnection>((cache, connection) => cache.ConnectionMultiplexerFactory = connection.GetAsync);
                AddSource<RedisPolicySource>(services);
                break;

            case PolicySourceKind.Graph:
                var token = builder.Configuration[$"{PolicySourceOptions.Section}:Graph:DevelopmentBearerToken"];
                if (!string.IsNullOrEmpty(token) && !builder.Environment.IsDevelopment())
                {
                    throw new InvalidOperationException(
                        $"'{PolicySourceOptions.Section}:Graph:DevelopmentBearerToken' is set but the environment is '{builder.Environment.EnvironmentName}': a fixed Graph token is for Development and tests only.");
                }

                if (string.IsNullOrEmpty(token))
                {
                    // App-only tokens with the AzureAd section's client credentials.
                    services.AddTokenAcquisition(isTokenAcquisitionSingleton: true);
                    services.AddInMemoryTokenCaches();
                }

                // Redirects are not followed: a page must come from Graph's own address, which the source checks.
                services.AddHttpClient(GraphPolicySource.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(30))
                    .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
                services.TryAddSingleton<GraphTokenProvider>();
                services.TryAddSingleton<LastKnownGoodStore>();
                AddSource<GraphPolicySource>(services);
                break;

            default:
                throw new InvalidOperationException($"'{PolicySourceOptions.Section}:Source' is '{kind}': use File, Redis or Graph.");
        }

        return builder;
    }

    private static void AddSource<T>(IServiceCollection services)
        where T : class, IPolicySource, IHostedService
    {
        services.TryAddSingleton<T>();
        services.TryAddSingleton<IPolicySource>(sp => sp.GetRequiredService<T>());
        services.AddHostedService(sp => sp.GetRequiredService<T>());
    }
}
