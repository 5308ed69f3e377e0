using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// A real <c>redis-server</c> on a free loopback port, in memory only (<c>--save '' --appendonly no</c>), which a test may
/// stop and start again on the same port. Tests call <see cref="SkipIfUnavailable"/> first.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly string[] _extraArguments;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private RedisServer(int port, string[] extraArguments) => (Port, _extraArguments) = (port, extraArguments);

    public int Port { get; }

    /// <summary>The connection string the gateway is given; a short connect timeout keeps outage tests quick.</summary>
    public string ConnectionString => $"127.0.0.1:{Port},connectTimeout=1000,syncTimeout=2000,asyncTimeout=2000";

    public static string? Executable { get; } = Find();

    public static void SkipIfUnavailable()
        => Integration.SkipUnless(Executable is not null, "redis-server is not on the PATH: install it (bash .ci/run does, with apt-get) to run the Redis tests.");

    /// <summary>Starts a server on a free port; <paramref name="extraArguments"/> are added to the command line.</summary>
    public static Task<RedisServer> StartAsync(params string[] extraArguments) => StartAsync(() => extraArguments);

    /// <summary>
    /// Starts a server on a free port, with <paramref name="extraArguments"/> made afresh for each try: a port found free
    /// can be taken by another test's process before redis-server binds it, and then the server exits at once.
    /// </summary>
    public static async Task<RedisServer> StartAsync(Func<string[]> extraArguments)
    {
        for (var attempt = 1; ; attempt++)
        {
            var server = new RedisServer(LoopbackPort.Free(), extraArguments());
            try
            {
                await server.StartAgainAsync();
                return server;
            }
            catch (ExitedException) when (attempt < 3)
            {
                await server.StopAsync();
            }
        }
    }

    /// <summary>Starts (again) on the same port, with an empty data set.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(Executable!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no" }.Concat(_extraArguments))
        {
            info.ArgumentList.Add(arg);
        }

        lock (_output)
        {
            _output.Clear();
        }

        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (await PingAsync())
            {
                return;
            }

            if (_process.HasExited)
            {
                await _process.WaitForExitAsync(); // lets the output readers finish
                throw new ExitedException($"redis-server exited ({_process.ExitCode}) before answering PING on port {Port}: {Output()}");
            }

            await Task.Delay(25);
        }

        await StopAsync();
        throw new InvalidOperationException($"redis-server did not answer PING on port {Port} within 10 s: {Output()}");
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private sealed class ExitedException(string message) : InvalidOperationException(message);

    internal static string? Find(string name = "redis-server")
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
