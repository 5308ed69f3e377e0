using System.Diagnostics;
using StackExchange.Redis;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// Three real <c>redis-server</c> processes formed into a Redis Cluster (three masters, no replicas) by
/// <c>redis-cli --cluster create</c>: what a clustered managed Redis looks like to the gateway, hash slots included.
/// </summary>
internal sealed class RedisCluster : IAsyncDisposable
{
    private static readonly string? CliExecutable = RedisServer.Find("redis-cli");

    private readonly TempDirectory _directory;
    private readonly List<RedisServer> _nodes = [];

    private RedisCluster(TempDirectory directory) => _directory = directory;

    public string ConnectionString
        => $"{string.Join(",", _nodes.Select(n => $"127.0.0.1:{n.Port}"))},connectTimeout=1000,syncTimeout=2000,asyncTimeout=2000";

    public static void SkipIfUnavailable()
        => Integration.SkipUnless(RedisServer.Executable is not null && CliExecutable is not null,
            "redis-server or redis-cli is not on the PATH: install redis-server (bash .ci/run does, with apt-get) to run the Redis Cluster tests.");

    public static async Task<RedisCluster> StartAsync()
    {
        var cluster = new RedisCluster(new TempDirectory("xtac-redis-cluster-"));
        try
        {
            for (var i = 0; i < 3; i++)
            {
                // The cluster bus port is given too: the default (port + 10000) can be taken, or past 65535.
                var configFile = Path.Combine(cluster._directory.Path, $"nodes-{i}.conf");
                cluster._nodes.Add(await RedisServer.StartAsync(() =>
                [
                    "--cluster-enabled", "yes",
                    "--cluster-port", LoopbackPort.Free().ToString(),
                    "--cluster-config-file", configFile,
                    "--cluster-node-timeout", "2000",
                ]));
            }

            await cluster.CreateAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task CreateAsync()
    {
        var info = new ProcessStartInfo(CliExecutable!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--cluster", "create" }.Concat(_nodes.Select(n => $"127.0.0.1:{n.Port}")).Concat(["--cluster-replicas", "0", "--cluster-yes"]))
        {
            info.ArgumentList.Add(arg);
        }

        using var cli = Process.Start(info)!;
        var output = cli.StandardOutput.ReadToEndAsync();
        var errors = cli.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await cli.WaitForExitAsync(timeout.Token);
        if (cli.ExitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed ({cli.ExitCode}): {await output}{await errors}");
        }

        // Every node must agree the cluster is up before a client is pointed at it.
        await using var connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        foreach (var node in _nodes)
        {
            var server = connection.GetServer("127.0.0.1", node.Port);
            while (!((string?)await server.ExecuteAsync("CLUSTER", "INFO"))!.Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"The Redis Cluster node on port {node.Port} did not reach cluster_state:ok within 10 s.");
                }

                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        _directory.Dispose();
    }
}
