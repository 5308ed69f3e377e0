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

    /// <summary>How long the backend takes before it answers (none by default).</summary>
    public TimeSpan Delay { get; set; }

    public static async Task<RecordingBackend> StartAsync()
    {
        var app = LoopbackApp.Create();
        var backend = new RecordingBackend(app);
        app.Run(async context =>
        {
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            backend.Requests.Enqueue(new RecordedRequest(context.Request.Method, context.Request.Path, headers));
            if (backend.Delay > TimeSpan.Zero)
            {
                await Task.Delay(backend.Delay, context.RequestAborted);
            }

            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync("backend says hello");
        });
        await app.StartAsync();
        return backend;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

internal sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers);
