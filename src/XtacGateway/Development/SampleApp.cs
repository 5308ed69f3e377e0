using System.Text.Json;
using Microsoft.Extensions.Options;

namespace XtacGateway.Development;

/// <summary>
/// The sample internal app a newcomer's gateway fronts: it answers every request with what it received
/// (method, path and the identity headers), so the effect of the gateway is visible. Development only.
/// </summary>
internal sealed class SampleApp(IOptions<GatewayOptions> options, ILogger<SampleApp> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var url = options.Value.SampleApp.Url;
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(url);
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Run(EchoAsync);
        await _app.StartAsync(cancellationToken);
        logger.LogInformation("Sample internal app listening on {Url}.", url);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private static async Task EchoAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        writer.WriteString("app", "xtac-sample-app");
        writer.WriteString("method", context.Request.Method);
        writer.WriteString("path", context.Request.Path + context.Request.QueryString);
        writer.WriteStartObject("identityHeaders");
        foreach (var header in context.Request.Headers)
        {
            if (header.Key.StartsWith("X-Xtac-", StringComparison.OrdinalIgnoreCase))
            {
                writer.WriteString(header.Key, header.Value.ToString());
            }
        }

        writer.WriteEndObject();
        writer.WriteBoolean("authorizationForwarded", context.Request.Headers.Authorization.Count > 0);
        writer.WriteEndObject();
    }
}

internal static class SampleAppExtensions
{
    public static void AddSampleApp(this WebApplicationBuilder builder)
    {
        var enabled = builder.Configuration.GetValue<bool?>($"{GatewayOptions.Section}:SampleApp:Enabled") ?? builder.Environment.IsDevelopment();
        if (enabled)
        {
            builder.Services.AddHostedService<SampleApp>();
        }
    }
}
