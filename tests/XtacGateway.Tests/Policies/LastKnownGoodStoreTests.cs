using System.Text;
using System.Text.Json;
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

    [Fact]
    public void TryLoad_FileOfAnotherFleetAtTheConfiguredPath_ReturnsNull()
    {
        var snapshot = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(TestPolicies.Standard()), TestIds.ResourceTenant, new PolicyVersion(4, "\"tag\"", DateTimeOffset.UnixEpoch), out _)!;
        CreateStore(keyPrefix: "fleet-a").Save(snapshot);

        // Same resource tenant, same file, another Redis key prefix: another fleet's policy.
        Assert.Null(CreateStore(keyPrefix: "fleet-b").TryLoad(TestIds.ResourceTenant));
        Assert.NotNull(CreateStore(keyPrefix: "fleet-a").TryLoad(TestIds.ResourceTenant));
    }

    [Fact]
    public void ResolveLastKnownGoodPath_Unset_OneDefaultFilePerFleet()
    {
        static PolicySourceOptions Fleet(string prefix) => new() { Source = PolicySourceKind.Redis, Redis = { KeyPrefix = prefix } };

        var a = Fleet("fleet-a").ResolveLastKnownGoodPath("/unused", TestIds.ResourceTenant);

        Assert.Equal(a, Fleet("fleet-a").ResolveLastKnownGoodPath("/unused", TestIds.ResourceTenant));
        Assert.NotEqual(a, Fleet("fleet-b").ResolveLastKnownGoodPath("/unused", TestIds.ResourceTenant));
        Assert.NotEqual(a, Fleet("fleet-a").ResolveLastKnownGoodPath("/unused", TestIds.AllowedPartner));
    }

    private LastKnownGoodStore CreateStore(string keyPrefix = "xtac:policy")
    {
        var options = Options.Create(new PolicySourceOptions
        {
            Source = PolicySourceKind.Redis,
            Redis = { KeyPrefix = keyPrefix },
            LastKnownGoodPath = Path.Combine(_directory, "last-known-good.json"),
        });
        var gateway = Options.Create(new GatewayOptions { ResourceTenantId = TestIds.ResourceTenant });
        var environment = new HostingEnvironment { ContentRootPath = _directory };
        return new LastKnownGoodStore(options, gateway, environment, NullLogger<LastKnownGoodStore>.Instance);
    }
}
