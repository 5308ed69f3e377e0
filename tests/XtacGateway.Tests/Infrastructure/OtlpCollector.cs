using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// An OTLP/HTTP receiver on loopback (real Kestrel) that keeps every export it is sent, by signal path
/// (<c>/v1/traces</c>, <c>/v1/metrics</c>, <c>/v1/logs</c>), and answers with OTLP's empty success response.
/// </summary>
internal sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Path, string ContentType, byte[] Body)> _exports = new();

    private OtlpCollector(WebApplication app) => _app = app;

    public string Url => _app.Urls.First();

    public static async Task<OtlpCollector> StartAsync()
    {
        var app = LoopbackApp.Create();
        var collector = new OtlpCollector(app);
        app.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            collector._exports.Enqueue((context.Request.Path, context.Request.ContentType ?? "", body.ToArray()));
            // An empty Export*ServiceResponse: zero bytes of protobuf.
            context.Response.ContentType = "application/x-protobuf";
        });
        await app.StartAsync();
        return collector;
    }

    /// <summary>
    /// The bodies received on <paramref name="path"/> as text. OTLP's protobuf carries attribute keys, names and string
    /// values as plain UTF-8, so a test can look for them without decoding the messages.
    /// </summary>
    public IReadOnlyList<string> Received(string path)
        => [.. _exports.Where(e => e.Path == path).Select(e => System.Text.Encoding.UTF8.GetString(e.Body))];

    public IReadOnlyCollection<string> ContentTypes => [.. _exports.Select(e => e.ContentType).Distinct()];

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
