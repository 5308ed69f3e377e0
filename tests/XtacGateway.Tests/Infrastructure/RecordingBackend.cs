using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>A real Kestrel upstream on loopback that records every request it receives.</summary>
internal sealed class RecordingBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RecordingBackend(WebApplication app) => _app = app;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public string Url => _app.Urls.First();

    public static async Task<RecordingBackend> StartAsync()
    {
        var app = LoopbackApp.Create();
        var backend = new RecordingBackend(app);
        app.Run(async context =>
        {
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            backend.Requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path, headers));
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync("backend says hello");
        });
        await app.StartAsync();
        return backend;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

internal sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers);
