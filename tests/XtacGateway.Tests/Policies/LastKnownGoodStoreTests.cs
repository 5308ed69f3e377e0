using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using XtacGateway.Policies;
using XtacGateway.Policy.Compilation;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Policies;

/// <summary>The last-known-good file: written from a snapshot's compact document, read back into the same snapshot.</summary>
public sealed class LastKnownGoodStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("xtac-lkg-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void TryLoad_AfterSave_ReadsBackTheSameSnapshot()
    {
        var store = CreateStore();
        var version = new PolicyVersion(7, "\"0123456789abcdef01234567\"", new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
        var saved = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(TestPolicies.Standard()), TestIds.ResourceTenant, version, out var errors);
        Assert.True(saved is not null, string.Join("; ", errors));

        store.Save(saved);
        var loaded = store.TryLoad(TestIds.ResourceTenant);

        Assert.NotNull(loaded);
        Assert.Equal((saved.Version, saved.ETag, saved.LoadedAt), (loaded.Version, loaded.ETag, loaded.LoadedAt));
        Assert.Equal(saved.PartnerCount, loaded.PartnerCount);
        Assert.Equal(saved.DocumentUtf8.ToArray(), loaded.DocumentUtf8.ToArray());
        Assert.Equal(
            [TestIds.AllowedPartner.ToString(), TestIds.BlockedPartner.ToString()],
            loaded.Document.Partners.Select(p => p.TenantId));
    }

    [Fact]
    public void Save_Snapshot_WritesTheDocumentAsAnObjectBesideItsVersion()
    {
        var store = CreateStore();
        var snapshot = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(TestPolicies.Standard()), TestIds.ResourceTenant, new PolicyVersion(3, "\"tag\"", DateTimeOffset.UnixEpoch), out _)!;

        store.Save(snapshot);

        using var file = JsonDocument.Parse(File.ReadAllBytes(store.Path));
        Assert.Equal(3, file.RootElement.GetProperty("version").GetInt64());
        Assert.Equal("\"tag\"", file.RootElement.GetProperty("etag").GetString());
        var document = file.RootElement.GetProperty("document");
        Assert.Equal(JsonValueKind.Object, document.ValueKind);
        Assert.Equal(2, document.GetProperty("partners").GetArrayLength());
    }

    [Fact]
    public void TryLoad_DocumentNamesTheResourceTenant_ReturnsNull()
    {
        var store = CreateStore();
        var snapshot = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(TestPolicies.Standard()), TestIds.ResourceTenant, new PolicyVersion(1, "\"tag\"", DateTimeOffset.UnixEpoch), out _)!;
        store.Save(snapshot);

        // Another gateway's resource tenant is a partner of this policy, so the file is not a valid policy for it.
        Assert.Null(store.TryLoad(TestIds.AllowedPartner));
    }

    [Theory]
    [InlineData("fleet-b", "redis-a:6379")]
    [InlineData("fleet-a", "redis-b:6379")]
    [InlineData("fleet-a", "redis-a:6379,defaultDatabase=2")]
    public void TryLoad_FileOfAnotherFleetAtTheConfiguredPath_ReturnsNull(string keyPrefix, string redis)
    {
        var snapshot = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(TestPolicies.Standard()), TestIds.ResourceTenant, new PolicyVersion(4, "\"tag\"", DateTimeOffset.UnixEpoch), out _)!;
        CreateStore("fleet-a", "redis-a:6379").Save(snapshot);

        // Same resource tenant and file; another key prefix, Redis server or database: another fleet's policy.
        Assert.Null(CreateStore(keyPrefix, redis).TryLoad(TestIds.ResourceTenant));
        Assert.NotNull(CreateStore("fleet-a", "redis-a:6379,password=changed").TryLoad(TestIds.ResourceTenant));
    }

    [Fact]
    public void Confirmed_FileAsThisProcessLeftIt_TimeMovesToTheConfirmation()
    {
        var (store, time, snapshot) = SavedAnHourAgo();

        store.Confirmed(snapshot);

        Assert.Equal(time.GetUtcNow().UtcDateTime, File.GetLastWriteTimeUtc(store.Path));
    }

    [Fact]
    public void Confirmed_AnotherPolicyInForce_FileTimeKept()
    {
        var (store, time, _) = SavedAnHourAgo();

        store.Confirmed(Snapshot(etag: "\"another\""));

        Assert.Equal(time.GetUtcNow().UtcDateTime.AddHours(-1), File.GetLastWriteTimeUtc(store.Path));
    }

    [Fact]
    public void Confirmed_FileRewrittenByAnotherProcess_LeftAsItIs()
    {
        var (store, _, snapshot) = SavedAnHourAgo();
        File.AppendAllText(store.Path, " ");
        var theirs = File.GetLastWriteTimeUtc(store.Path);

        store.Confirmed(snapshot);

        Assert.Equal(theirs, File.GetLastWriteTimeUtc(store.Path));
    }

    [Fact]
    public void Confirmed_FileDeleted_SavedAgain()
    {
        var store = CreateStore();
        var snapshot = Snapshot();
        store.Save(snapshot);
        File.Delete(store.Path);

        store.Confirmed(snapshot);

        Assert.Equal(snapshot.ETag, store.TryLoad(TestIds.ResourceTenant)?.ETag);
    }

    [Fact]
    public void ResolveLastKnownGoodPath_Unset_OneDefaultFilePerFleet()
    {
        static string PathOf(string prefix, string redis, Guid tenant)
        {
            var options = new PolicySourceOptions { Source = PolicySourceKind.Redis, Redis = { KeyPrefix = prefix } };
            return options.ResolveLastKnownGoodPath("/unused", tenant, options.OriginIn(Configuration(redis)));
        }

        var a = PathOf("fleet-a", "redis-a:6379", TestIds.ResourceTenant);

        Assert.Equal(a, PathOf("fleet-a", "redis-a:6379", TestIds.ResourceTenant));
        Assert.NotEqual(a, PathOf("fleet-b", "redis-a:6379", TestIds.ResourceTenant));
        Assert.NotEqual(a, PathOf("fleet-a", "redis-b:6379", TestIds.ResourceTenant));
        Assert.NotEqual(a, PathOf("fleet-a", "redis-a:6379", TestIds.AllowedPartner));
    }

    private static IConfiguration Configuration(string redis)
        => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redis }).Build();

    /// <summary>A store on a hand-moved clock whose file was saved (and its time checked) an hour before the clock's now.</summary>
    private (LastKnownGoodStore Store, ManualTime Time, PolicySnapshot Saved) SavedAnHourAgo()
    {
        var time = new ManualTime(new DateTimeOffset(2026, 11, 28, 9, 0, 0, TimeSpan.Zero));
        var store = CreateStore(time: time);
        var snapshot = Snapshot();
        store.Save(snapshot);
        Assert.Equal(time.GetUtcNow().UtcDateTime, File.GetLastWriteTimeUtc(store.Path));
        time.Advance(TimeSpan.FromHours(1));
        return (store, time, snapshot);
    }

    private static PolicySnapshot Snapshot(string etag = "\"tag\"")
        => PolicyCompiler.Compile(Encoding.UTF8.GetBytes(TestPolicies.Standard()), TestIds.ResourceTenant, new PolicyVersion(5, etag, DateTimeOffset.UnixEpoch), out _)!;

    private LastKnownGoodStore CreateStore(string keyPrefix = "xtac:policy", string redis = "localhost:6379", TimeProvider? time = null)
    {
        var options = Options.Create(new PolicySourceOptions
        {
            Source = PolicySourceKind.Redis,
            Redis = { KeyPrefix = keyPrefix },
            LastKnownGoodPath = Path.Combine(_directory, "last-known-good.json"),
        });
        var gateway = Options.Create(new GatewayOptions { ResourceTenantId = TestIds.ResourceTenant });
        var environment = new HostingEnvironment { ContentRootPath = _directory };
        return new LastKnownGoodStore(options, gateway, Configuration(redis), environment, time ?? TimeProvider.System, NullLogger<LastKnownGoodStore>.Instance);
    }

    /// <summary>A clock the test moves by hand.</summary>
    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
