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
    private Process? _process;

    private RedisServer(int port, string[] extraArguments) => (Port, _extraArguments) = (port, extraArguments);

    public int Port { get; }

    /// <summary>The connection string the gateway is given; a short connect timeout keeps outage tests quick.</summary>
    public string ConnectionString => $"127.0.0.1:{Port},connectTimeout=1000,syncTimeout=2000,asyncTimeout=2000";

    public static string? Executable { get; } = Find();

    public static void SkipIfUnavailable()
        => Skip.If(Executable is null, "redis-server is not on the PATH: install it (bash .ci/run does, with apt-get) to run the Redis tests.");

    /// <summary>Starts a server on a free port; <paramref name="extraArguments"/> are added to the command line.</summary>
    public static async Task<RedisServer> StartAsync(params string[] extraArguments)
    {
        var server = new RedisServer(FreePort(), extraArguments);
        await server.StartAgainAsync();
        return server;
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

        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (await PingAsync())
            {
                return;
            }

            await Task.Delay(25);
        }

        throw new InvalidOperationException($"redis-server did not answer PING on port {Port} within 10 s.");
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

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

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
