using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XtacGateway.Authentication;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// A real gateway on 127.0.0.1:0 in front of a <see cref="RecordingBackend"/>, trusting the development
/// issuer (real RSA keys, real discovery document and JWKS served over loopback).
/// </summary>
internal sealed class GatewayHarness : IAsyncDisposable
{
    private GatewayHarness(WebApplication app, RecordingBackend backend, string directory, DevelopmentIssuer issuer)
    {
        App = app;
        Backend = backend;
        Directory = directory;
        Issuer = issuer;
        var listeners = app.Services.GetRequiredService<XtacGateway.Hosting.ListenerEndpoints>();
        Client = new HttpClient { BaseAddress = new Uri(listeners.ProxyUrls[0]) };
        Management = new HttpClient { BaseAddress = new Uri(listeners.ManagementUrls[0]) };
    }

    public WebApplication App { get; }
    public RecordingBackend Backend { get; }
    public string Directory { get; }
    public DevelopmentIssuer Issuer { get; }
    public HttpClient Client { get; }

    /// <summary>A client for the management listener (admin API, metrics, health).</summary>
    public HttpClient Management { get; }
    /// <summary>False when the test passed its own directory: it is then left in place on dispose.</summary>
    public bool OwnsDirectory { get; private init; } = true;

    public string PolicyPath => Path.Combine(Directory, "policy.json");
    public string KeyPath => Path.Combine(Directory, "dev-keys.pem");

    public static Dictionary<string, string?> Settings(string directory, string backendUrl) => new()
    {
        // A closed loopback port: a gateway started outside Development reads Entra's keys at start-up, and tests talk
        // to loopback only (Development's issuer is the gateway itself).
        ["AzureAd:Instance"] = "https://127.0.0.1:9/",
        ["AzureAd:TenantId"] = "organizations",
        ["AzureAd:ClientId"] = TestIds.Audience,
        ["Xtac:ResourceTenantId"] = TestIds.ResourceTenant.ToString(),
        ["Xtac:Policy:Path"] = Path.Combine(directory, "policy.json"),
        ["Xtac:Policy:FileCheckInterval"] = "00:00:00.100",
        ["Xtac:DevelopmentIssuer:KeyPath"] = Path.Combine(directory, "dev-keys.pem"),
        ["Xtac:SampleApp:Enabled"] = "false",
        ["Xtac:Management:Urls"] = "http://127.0.0.1:0",
        ["ReverseProxy:Routes:open:ClusterId"] = "backend",
        ["ReverseProxy:Routes:open:Match:Path"] = "/{**catch-all}",
        ["ReverseProxy:Routes:open:Metadata:Xtac.AppId"] = TestIds.OpenApp.ToString(),
        ["ReverseProxy:Routes:mfa:ClusterId"] = "backend",
        ["ReverseProxy:Routes:mfa:Match:Path"] = "/mfa/{**catch-all}",
        ["ReverseProxy:Routes:mfa:Metadata:Xtac.AppId"] = TestIds.MfaApp.ToString(),
        ["ReverseProxy:Routes:mfa:Metadata:Xtac.GrantControls"] = "mfa",
        ["ReverseProxy:Routes:public:ClusterId"] = "backend",
        ["ReverseProxy:Routes:public:Match:Path"] = "/public/{**catch-all}",
        ["ReverseProxy:Routes:public:Metadata:Xtac.Public"] = "true",
        ["ReverseProxy:Clusters:backend:Destinations:d1:Address"] = backendUrl,
    };

    /// <summary>Starts a backend and a gateway with <paramref name="policyJson"/>; <paramref name="configure"/> may change any setting (null removes it).</summary>
    public static async Task<GatewayHarness> StartAsync(
        string policyJson,
        Action<Dictionary<string, string?>>? configure = null,
        string environment = "Development",
        Action<WebApplicationBuilder>? configureBuilder = null,
        string? directory = null)
    {
        // A caller-owned directory survives this gateway, so a test can restart an instance on the same files.
        var ownsDirectory = directory is null;
        directory ??= System.IO.Directory.CreateTempSubdirectory("xtac-test-").FullName;
        var backend = await RecordingBackend.StartAsync();
        WebApplication? app = null;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "policy.json"), policyJson);
            var settings = Settings(directory, backend.Url);
            configure?.Invoke(settings);
            app = GatewayApplication.Create(
                ["--urls", "http://127.0.0.1:0", "--environment", environment],
                contentRoot: directory,
                builder =>
                {
                    builder.Configuration.AddInMemoryCollection(settings.Where(s => s.Value is not null));
                    builder.Logging.ClearProviders();
                    builder.Logging.AddFilter(_ => false);
                    configureBuilder?.Invoke(builder);
                });
            await app.StartAsync();
            var issuer = DevelopmentIssuer.LoadOrCreate(Path.Combine(directory, "dev-keys.pem"));
            return new GatewayHarness(app, backend, directory, issuer) { OwnsDirectory = ownsDirectory };
        }
        catch
        {
            // A gateway that failed to start (as some tests intend) must not leave its listeners or files behind.
            if (app is not null)
            {
                await app.DisposeAsync();
            }

            await backend.DisposeAsync();
            if (ownsDirectory)
            {
                try
                {
                    System.IO.Directory.Delete(directory, recursive: true);
                }
                catch (IOException)
                {
                }
            }

            throw;
        }
    }

    /// <summary>A token as the development issuer signs it; <paramref name="claims"/> may add, change or remove (null) claims.</summary>
    public string Token(Guid? tenant = null, Action<Dictionary<string, object?>>? claims = null, TimeSpan? lifetime = null, DateTimeOffset? issuedAt = null)
    {
        var tid = tenant ?? TestIds.AllowedPartner;
        var values = new Dictionary<string, object?>
        {
            ["iss"] = DevelopmentIssuer.IssuerFor(tid),
            ["aud"] = TestIds.Audience,
            ["tid"] = tid.ToString(),
            ["oid"] = Guid.NewGuid().ToString(),
            ["scp"] = "access_as_user",
            ["ver"] = "2.0",
            ["amr"] = new List<object> { "pwd" },
        };
        claims?.Invoke(values);
        var nonNull = values.Where(v => v.Value is not null).ToDictionary(v => v.Key, v => v.Value!);
        return Issuer.Mint(nonNull, issuedAt ?? DateTimeOffset.UtcNow, lifetime ?? TimeSpan.FromHours(1));
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? token, Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        configure?.Invoke(request);
        return await Client.SendAsync(request);
    }

    public T Service<T>() where T : notnull => App.Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Management.Dispose();
        await App.DisposeAsync();
        await Backend.DisposeAsync();
        if (!OwnsDirectory)
        {
            return;
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
