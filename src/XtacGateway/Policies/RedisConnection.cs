using StackExchange.Redis;

namespace XtacGateway.Policies;

/// <summary>
/// The one Redis connection (<c>ConnectionStrings:redis</c>) shared by the distributed cache, the pub/sub channel and the
/// audit stream. It never refuses to start when Redis is down: it reconnects in the background and, while disconnected,
/// commands fail at once (no backlog) so the gateway can report the store as degraded instead of waiting.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    public const string ConnectionStringName = "redis";

    /// <summary>What a reachable Redis answers while loading its data or during a failover.</summary>
    private static readonly string[] s_transientErrors = ["LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY"];

    private readonly Lazy<Task<IConnectionMultiplexer>> _multiplexer;

    public RedisConnection(IConfiguration configuration)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                $"'ConnectionStrings:{ConnectionStringName}' is not set, but '{PolicySourceOptions.Section}:Source' is Redis: give the Redis connection string (for example 'localhost:6379').");
        }

        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName ??= "xtac-gateway";
        _multiplexer = new(async () => await ConnectionMultiplexer.ConnectAsync(options));
    }

    public Task<IConnectionMultiplexer> GetAsync() => _multiplexer.Value;

    public async Task<IDatabase> DatabaseAsync() => (await GetAsync()).GetDatabase();

    /// <summary>
    /// True for the failures that mean "Redis cannot be reached right now", as opposed to bugs: no connection, or a
    /// server that is still loading its data or between masters (the errors Redis answers during a failover).
    /// </summary>
    public static bool IsUnreachable(Exception ex)
        => ex is RedisConnectionException or RedisTimeoutException or TimeoutException or System.Net.Sockets.SocketException or ObjectDisposedException
            || (ex is RedisServerException server && s_transientErrors.Any(prefix => server.Message.StartsWith(prefix, StringComparison.Ordinal)));

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer.IsValueCreated)
        {
            await (await _multiplexer.Value).DisposeAsync();
        }
    }
}
