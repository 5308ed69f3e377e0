using System.Diagnostics;
using System.Text.Json;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>A real Prometheus server (Debian's <c>prometheus</c> package) on a free loopback port, scraping one target every second.</summary>
internal sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private PrometheusServer(Process process, string directory, string url)
    {
        _process = process;
        _directory = directory;
        Client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(10) };
    }

    public HttpClient Client { get; }

    /// <summary>The scrape job the gateway is found under, as the dashboard's <c>$job</c> variable would select it.</summary>
    public const string JobName = "xtac-gateway";

    public static string? BinaryPath => FindOnPath("prometheus");

    public static async Task<PrometheusServer> StartAsync(string target)
    {
        var directory = Directory.CreateTempSubdirectory("xtac-prometheus-").FullName;
        var port = LoopbackPort.Free();
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: {JobName}
                metrics_path: /metrics
                static_configs:
                  - targets: ["{target}"]
            """);

        var start = new ProcessStartInfo(BinaryPath!)
        {
            ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}", $"--web.listen-address=127.0.0.1:{port}" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var server = new PrometheusServer(process, directory, $"http://127.0.0.1:{port}");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var ready = await server.Client.GetAsync("/-/ready");
                if (ready.IsSuccessStatusCode)
                {
                    return server;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
            }
            catch
            {
                // Not yet listening past the deadline, or the client timed out: the process must not outlive the test.
                await server.DisposeAsync();
                throw;
            }

            if (DateTime.UtcNow >= deadline || process.HasExited)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException("Prometheus did not become ready within 30 s.");
            }

            await Task.Delay(200);
        }
    }

    /// <summary>
    /// Runs an instant query; returns the number of series in the result whose value is a finite number (Grafana draws
    /// NaN, such as a quantile or ratio over no samples, as nothing), or with <paramref name="aboveZero"/> a number above zero.
    /// </summary>
    public async Task<int> QueryAsync(string promql, bool aboveZero = false)
    {
        using var response = await Client.GetAsync("/api/v1/query?query=" + Uri.EscapeDataString(promql));
        var body = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body);
        if (json.RootElement.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"Prometheus rejected '{promql}': {body}");
        }

        return json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray()
            .Count(series => double.TryParse(series.GetProperty("value")[1].GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
                && double.IsFinite(value) && (!aboveZero || value > 0));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string? FindOnPath(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
