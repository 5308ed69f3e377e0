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
        var saved = Snapshot(version: 7, loadedAt: new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

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
    public void TryLoad_DocumentAsDeepAsAPolicyMayGo_ReadsBack()
    {
        // 64 levels, the document and 63 arrays: the deepest a policy may be. The file holds it one level further down.
        var deep = new string('[', 63) + new string(']', 63);
        var document = TestPolicies.Standard().TrimEnd()[..^1] + $$""", "x-note": {{deep}} }""";
        var draft = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(document), TestIds.ResourceTenant, default, out var errors);
        Assert.True(draft is not null, string.Join("; ", errors));
        var store = CreateStore();

        store.Save(draft.WithVersion(new PolicyVersion(3, PolicyCompiler.ComputeETag(draft.DocumentUtf8.Span), DateTimeOffset.UnixEpoch)));

        Assert.Equal(draft.DocumentUtf8.ToArray(), store.TryLoad(TestIds.ResourceTenant)?.DocumentUtf8.ToArray());
    }

    [Fact]
    public void RestoreIfEmpty_SavedWithASourceMark_RestoresTheMarkWithThePolicy()
    {
        var store = CreateStore();
        store.Save(Snapshot(version: 4), sourceMark: "1764400000000-3");
        // A re-save after a confirmation (the file deleted under the process) keeps the mark it was saved with.
        File.Delete(store.Path);
        store.Confirmed(Snapshot(version: 4));
        using var policies = new PolicySnapshotStore(TimeProvider.System);
        var restarted = CreateStore();

        restarted.RestoreIfEmpty(policies, TestIds.ResourceTenant, "redis");

        Assert.Equal(4, policies.Current!.Version);
        Assert.Equal("1764400000000-3", restarted.RestoredSourceMark);
    }

    [Fact]
    public void Confirmed_SourceMarkMovedOn_SavedWithThePolicy()
    {
        var store = CreateStore();
        var snapshot = Snapshot(version: 4);
        store.Save(snapshot, sourceMark: "0-0");

        store.Confirmed(snapshot, sourceMark: "1764400000000-3");
        using var policies = new PolicySnapshotStore(TimeProvider.System);
        var restarted = CreateStore();
        restarted.RestoreIfEmpty(policies, TestIds.ResourceTenant, "redis");

        Assert.Equal("1764400000000-3", restarted.RestoredSourceMark);
        // Restored, the mark is the one a re-save keeps.
        File.Delete(restarted.Path);
        restarted.Confirmed(policies.Current!);
        var again = CreateStore();
        again.RestoreIfEmpty(new PolicySnapshotStore(TimeProvider.System), TestIds.ResourceTenant, "redis");
        Assert.Equal("1764400000000-3", again.RestoredSourceMark);
    }

    [Fact]
    public void RestoreIfEmpty_SavedWithoutASourceMark_NoMark()
    {
        CreateStore().Save(Snapshot(version: 4));
        using var policies = new PolicySnapshotStore(TimeProvider.System);
        var restarted = CreateStore();

        restarted.RestoreIfEmpty(policies, TestIds.ResourceTenant, "redis");

        Assert.Equal(4, policies.Current!.Version);
        Assert.Null(restarted.RestoredSourceMark);
    }

    [Fact]
    public void Save_Snapshot_WritesTheDocumentAsAnObjectBesideItsVersion()
    {
        var store = CreateStore();
        var snapshot = Snapshot(version: 3);

        store.Save(snapshot);

        using var file = JsonDocument.Parse(File.ReadAllBytes(store.Path));
        Assert.Equal(3, file.RootElement.GetProperty("version").GetInt64());
        Assert.Equal(snapshot.ETag, file.RootElement.GetProperty("etag").GetString());
        var document = file.RootElement.GetProperty("document");
        Assert.Equal(JsonValueKind.Object, document.ValueKind);
        Assert.Equal(2, document.GetProperty("partners").GetArrayLength());
    }

    [Fact]
    public void TryLoad_DocumentNamesTheResourceTenant_ReturnsNull()
    {
        var store = CreateStore();
        store.Save(Snapshot());

        // The envelope claims the partner's tenant, whose gateway would then find its own tenant listed as a partner:
        // the document itself is no valid policy for it.
        var file = File.ReadAllText(store.Path);
        File.WriteAllText(store.Path, file.Replace($"\"resourceTenantId\": \"{TestIds.ResourceTenant}\"", $"\"resourceTenantId\": \"{TestIds.AllowedPartner}\"", StringComparison.Ordinal));
        Assert.NotEqual(file, File.ReadAllText(store.Path));

        Assert.Null(store.TryLoad(TestIds.AllowedPartner));
    }

    [Fact]
    public void TryLoad_DocumentEditedUnderItsETag_ReturnsNull()
    {
        var store = CreateStore();
        store.Save(Snapshot());
        var file = File.ReadAllText(store.Path);
        Assert.NotNull(store.TryLoad(TestIds.ResourceTenant));

        // Still a valid policy, but not the one the ETag names: the source would take it for its own and keep it.
        var edited = file.Replace("\"isMfaAccepted\":false", "\"isMfaAccepted\":true", StringComparison.Ordinal);
        Assert.NotEqual(file, edited);
        File.WriteAllText(store.Path, edited);

        Assert.Null(store.TryLoad(TestIds.ResourceTenant));
    }

    [Fact]
    public void Confirmed_AfterAFailedSave_SavesAgain()
    {
        // The file's folder cannot be created while a file has its name (as a full disk would fail a save).
        var blocker = Path.Combine(_directory, "blocked");
        File.WriteAllText(blocker, "");
        var store = CreateStore(path: Path.Combine(blocker, "last-known-good.json"));
        var snapshot = Snapshot();
        store.Save(snapshot);
        Assert.False(File.Exists(store.Path));

        File.Delete(blocker);
        store.Confirmed(snapshot);

        Assert.Equal(snapshot.ETag, store.TryLoad(TestIds.ResourceTenant)?.ETag);
    }

    [Theory]
    [InlineData("fleet-b", "redis-a:6379")]
    [InlineData("fleet-a", "redis-b:6379")]
    [InlineData("fleet-a", "redis-a:6379,defaultDatabase=2")]
    public void TryLoad_FileOfAnotherFleetAtTheConfiguredPath_ReturnsNull(string keyPrefix, string redis)
    {
        CreateStore("fleet-a", "redis-a:6379").Save(Snapshot(version: 4));

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
    private (LastKnownGoodStore Store, ManualClock Time, PolicySnapshot Saved) SavedAnHourAgo()
    {
        var time = new ManualClock(new DateTimeOffset(2026, 11, 28, 9, 0, 0, TimeSpan.Zero));
        var store = CreateStore(time: time);
        var snapshot = Snapshot();
        store.Save(snapshot);
        Assert.Equal(time.GetUtcNow().UtcDateTime, File.GetLastWriteTimeUtc(store.Path));
        time.Advance(TimeSpan.FromHours(1));
        return (store, time, snapshot);
    }

    /// <summary>The standard policy as a source delivers it: its ETag is its document's (or <paramref name="etag"/>).</summary>
    private static PolicySnapshot Snapshot(long version = 5, string? etag = null, DateTimeOffset? loadedAt = null)
    {
        var draft = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(TestPolicies.Standard()), TestIds.ResourceTenant, default, out var errors);
        Assert.True(draft is not null, string.Join("; ", errors));
        return draft.WithVersion(new PolicyVersion(version, etag ?? PolicyCompiler.ComputeETag(draft.DocumentUtf8.Span), loadedAt ?? DateTimeOffset.UnixEpoch));
    }

    private LastKnownGoodStore CreateStore(string keyPrefix = "xtac:policy", string redis = "localhost:6379", TimeProvider? time = null, string? path = null)
    {
        var options = Options.Create(new PolicySourceOptions
        {
            Source = PolicySourceKind.Redis,
            Redis = { KeyPrefix = keyPrefix },
            LastKnownGoodPath = path ?? Path.Combine(_directory, "last-known-good.json"),
        });
        var gateway = Options.Create(new GatewayOptions { ResourceTenantId = TestIds.ResourceTenant });
        var environment = new HostingEnvironment { ContentRootPath = _directory };
        return new LastKnownGoodStore(options, gateway, Configuration(redis), environment, time ?? TimeProvider.System, NullLogger<LastKnownGoodStore>.Instance);
    }
}
