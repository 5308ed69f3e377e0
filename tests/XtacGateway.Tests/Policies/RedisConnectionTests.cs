using StackExchange.Redis;
using XtacGateway.Policies;

namespace XtacGateway.Tests.Policies;

public sealed class RedisConnectionTests
{
    [Theory]
    [InlineData("LOADING Redis is loading the dataset in memory")]
    [InlineData("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")]
    [InlineData("CLUSTERDOWN The cluster is down")]
    [InlineData("TRYAGAIN Multiple keys request during rehashing of slot")]
    [InlineData("READONLY You can't write against a read only replica.")]
    public void IsUnreachable_ErrorsOfALoadingOrFailingOverServer_True(string message)
        => Assert.True(RedisConnection.IsUnreachable(new RedisServerException(message)));

    [Theory]
    [InlineData("WRONGTYPE Operation against a key holding the wrong kind of value")]
    [InlineData("NOSCRIPT No matching script. Please use EVAL.")]
    [InlineData("ERR unknown command 'XADD'")]
    public void IsUnreachable_ErrorsThatRetryingCannotFix_False(string message)
        => Assert.False(RedisConnection.IsUnreachable(new RedisServerException(message)));
}
