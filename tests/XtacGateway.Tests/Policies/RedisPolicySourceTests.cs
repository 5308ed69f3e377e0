using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using StackExchange.Redis;
using XtacGateway.Policies;
using XtacGateway.Policy.Compilation;
using XtacGateway.Tests.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Policies;

/// <summary>Gateway instances sharing a real redis-server: propagation, outages, restarts and concurrent admins.</summary>
public sealed class RedisPolicySourceTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static Action<Dictionary<string, string?>> RedisSettings(string connectionString, string? keyPrefix = null) => s =>
    {
        s["Xtac:Policy:Source"] = "Redis";
        s["ConnectionStrings:redis"] = connectionString;
        s["Xtac:Policy:Redis:KeyPrefix"] = keyPrefix;
        s["Xtac:Policy:Redis:CheckInterval"] = "00:00:00.200";
        s["Xtac:Policy:RetryMinDelay"] = "00:00:00.100";
        s["Xtac:Policy:RetryMaxDelay"] = "00:00:00.500";
        s["Xtac:Policy:LastKnownGoodPath"] = "last-known-good.json";
    };

    private static string AllowBlockedPartner => $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""";

    /// <summary>An instance on <paramref name="redis"/> that keeps its last known good policy in <paramref name="directory"/>.</summary>
    private static Task<GatewayHarness> StartSavingInAsync(RedisServer redis, string directory)
        => GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString), directory: directory);

    /// <summary>
    /// An instance keeping its last known good policy in <paramref name="directory"/> allows the blocked partner (which
    /// the seed file blocks) and stops; returns the change's version.
    /// </summary>
    private static async Task<long> AllowBlockedPartnerThenStopAsync(RedisServer redis, string directory)
    {
        await using var gateway = await StartSavingInAsync(redis, directory);
        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);
        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        return patch.PolicyVersion();
    }

    private static async Task<HttpStatusCode> DecideAsync(GatewayHarness gateway, Guid tenant)
        => (await gateway.GetAsync("/", gateway.Token(tenant))).StatusCode;

    /// <summary>
    /// Waits for <paramref name="eventId"/> (logged once Redis's policy is taken and the lost one kept), then asserts it
    /// was logged once, at Error, naming the copy of <paramref name="lost"/> kept beside the last-known-good file, which
    /// holds the lost policy's document. Returns the record.
    /// </summary>
    private static async Task<FakeLogRecord> AssertLostPolicyKeptAsync(GatewayHarness gateway, int eventId, PolicySnapshot lost)
    {
        Assert.True(await AdminClient.EventuallyAsync(
            () => Task.FromResult(gateway.App.Services.GetFakeLogCollector().GetSnapshot().Any(r => r.Id.Id == eventId)), Deadline),
            "the instance did not take Redis's policy and log the lost one");
        var logs = gateway.App.Services.GetFakeLogCollector().GetSnapshot();
        Assert.True(logs.Count(r => r.Id.Id == eventId) == 1, string.Join("\n", logs.Select(r => $"{r.Id.Id} {r.Level} {r.Message}")));
        var record = logs.Single(r => r.Id.Id == eventId);
        Assert.Equal(LogLevel.Error, record.Level);
        var keptPath = Path.Combine(gateway.Directory, $"lost-policy-v{lost.Version}-{lost.ETag.Trim('"')}.json");
        Assert.Contains(keptPath, record.Message, StringComparison.Ordinal);
        Assert.Equal(lost.DocumentUtf8.ToArray(), await File.ReadAllBytesAsync(keptPath));
        return record;
    }

    /// <summary>An admin change (MFA trusted by default) made through an instance of its own on <paramref name="redis"/>; the policy it made.</summary>
    private static async Task<PolicySnapshot> ChangeMadeOnAsync(RedisServer redis)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        using var change = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""");
        Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        return gateway.Service<PolicySnapshotStore>().Current!;
    }

    /// <summary>An instance on <paramref name="redis"/> whose warnings and errors are collected.</summary>
    private static Task<GatewayHarness> StartLoggingAsync(RedisServer redis)
        => GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString), configureBuilder: b => FakeLogs.Enable(b, LogLevel.Warning));

    /// <summary>An instance whose background check waits an hour: it reads Redis at start-up and when told to.</summary>
    private static Task<GatewayHarness> StartCheckingOnlyWhenToldAsync(RedisServer redis) => GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
    {
        RedisSettings(redis.ConnectionString)(s);
        s["Xtac:Policy:Redis:CheckInterval"] = "01:00:00";
        s["Xtac:Policy:MaxAge"] = "02:00:00";
    });

    /// <summary>
    /// Two admin changes through <paramref name="gateway"/>: what an instance that lagged holds (the first, with a dump
    /// of its document, which the second change deletes from Redis), and the newest.
    /// </summary>
    private static async Task<(PolicySnapshot Lagging, byte[] LaggingDocument, PolicySnapshot Newest)> TwoChangesAsync(GatewayHarness gateway, IDatabase db)
    {
        using (var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner))
        {
            Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        }

        var lagging = gateway.Service<PolicySnapshotStore>().Current!;
        var laggingDocument = (await db.KeyDumpAsync($"xtac:policy:doc:{lagging.ETag.Trim('"')}"))!;
        using (var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.AllowedPartner}",
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }"""))
        {
            Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        }

        return (lagging, laggingDocument, gateway.Service<PolicySnapshotStore>().Current!);
    }

    /// <summary>
    /// Redis failed over to a replica that saw neither change (no admin change recorded), and an instance holding only
    /// the first wrote it back, audited as the gateway's own, under <paramref name="version"/>: one transaction, announced.
    /// </summary>
    private static async Task LaggingWriteBackAsync(ConnectionMultiplexer connection, PolicySnapshot lagging, byte[] laggingDocument, long version)
    {
        var laggingKey = $"xtac:policy:doc:{lagging.ETag.Trim('"')}";
        var transaction = connection.GetDatabase().CreateTransaction();
        _ = transaction.KeyDeleteAsync(["xtac:policy:audit", "xtac:policy:lastchange", laggingKey]);
        _ = transaction.KeyRestoreAsync(laggingKey, laggingDocument);
        _ = transaction.StreamAddAsync("xtac:policy:audit", "entry", """{"activityDisplayName":"Restore the cross-tenant access setting lost by the policy store"}""");
        _ = transaction.StringSetAsync("xtac:policy:current", $"{version} {lagging.ETag}");
        Assert.True(await transaction.ExecuteAsync());
        await connection.GetSubscriber().PublishAsync(RedisChannel.Literal("xtac:policy:changes"), $"{version} {lagging.ETag}");
    }

    /// <summary>The newest policy is put back under a new version (event 1110), not given up for the older one.</summary>
    private static async Task AssertWrittenBackAsync(GatewayHarness gateway, IDatabase db, PolicySnapshot newest)
    {
        var store = gateway.Service<PolicySnapshotStore>();
        Assert.True(await AdminClient.EventuallyAsync(async () => (string?)await db.StringGetAsync("xtac:policy:current") is { } pointer
            && pointer.EndsWith(newest.ETag, StringComparison.Ordinal) && store.Current!.Version > newest.Version
            // Written back, then logged: wait for the log too.
            && gateway.App.Services.GetFakeLogCollector().GetSnapshot().Any(r => r.Id.Id == 1110), Deadline),
            "the newest policy was not written back");
        Assert.Equal(newest.ETag, store.Current!.ETag);
        var logs = gateway.App.Services.GetFakeLogCollector().GetSnapshot();
        Assert.Single(logs, r => r.Id.Id == 1110);
        Assert.DoesNotContain(logs, r => r.Id.Id is 1111 or 1113);
    }

    /// <summary>
    /// A failover to <paramref name="replica"/>, seen from <paramref name="primary"/>'s instances: in one transaction,
    /// the primary comes to hold the replica's pointer, the document it names, its audit stream and its last admin
    /// change (or none), and the change is announced.
    /// </summary>
    private static async Task FailOverAsync(RedisServer replica, RedisServer primary, string etag)
    {
        await using var source = await ConnectionMultiplexer.ConnectAsync(replica.ConnectionString);
        await using var target = await ConnectionMultiplexer.ConnectAsync(primary.ConnectionString);
        var from = source.GetDatabase();
        var documentKey = $"xtac:policy:doc:{etag.Trim('"')}";
        var pointer = await from.StringGetAsync("xtac:policy:current");
        var transaction = target.GetDatabase().CreateTransaction();
        _ = transaction.KeyDeleteAsync(["xtac:policy:audit", "xtac:policy:lastchange", documentKey]);
        foreach (var key in new RedisKey[] { documentKey, "xtac:policy:audit", "xtac:policy:lastchange" })
        {
            if (await from.KeyDumpAsync(key) is { } dump)
            {
                _ = transaction.KeyRestoreAsync(key, dump);
            }
        }

        _ = transaction.StringSetAsync("xtac:policy:current", pointer);
        Assert.True(await transaction.ExecuteAsync());
        await target.GetSubscriber().PublishAsync(RedisChannel.Literal("xtac:policy:changes"), pointer);
    }

    [SkippableFact]
    public async Task Patch_OnOneInstance_ChangesTheOthersDecisionsWithinTwoSeconds()
    {
        RedisServer.SkipIfUnavailable();
        await using var fleet = await TwoInstances.StartAsync();
        var (_, first, second) = fleet;
        Assert.Equal(first.Service<PolicySnapshotStore>().Current!.ETag, second.Service<PolicySnapshotStore>().Current!.ETag);
        Assert.Equal(HttpStatusCode.Forbidden, await DecideAsync(second, TestIds.BlockedPartner));

        using var patch = await first.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);
        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);

        Assert.True(await AdminClient.EventuallyAsync(async () => await DecideAsync(second, TestIds.BlockedPartner) == HttpStatusCode.OK, TimeSpan.FromSeconds(2)),
            "the second instance did not enforce the change made on the first within 2 s");
        Assert.Equal(patch.PolicyVersion(), second.Service<PolicySnapshotStore>().Current!.Version);

        // The audit stream is shared: the second instance shows the first one's change.
        var audit = (await (await second.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray();
        Assert.Equal("Update a partner cross-tenant access setting", (string?)Assert.Single(audit)!["activityDisplayName"]);
    }

    [SkippableFact]
    public async Task ReadAudit_StreamHasMoreEntriesThanTop_NextLinksGiveEveryEntryOnceOnAnyInstance()
    {
        RedisServer.SkipIfUnavailable();
        await using var fleet = await TwoInstances.StartAsync();
        var (_, first, second) = fleet;
        var versions = await first.FiveAuditedChangesAsync();

        // The link is the stream's own position: the other instance follows it just as well.
        using var page = await first.AdminAsync(HttpMethod.Get, "/admin/audit?$top=2");
        var next = (string)(await page.JsonAsync())["@odata.nextLink"]!;
        var rest = await second.AuditPagesAsync(new Uri(next).PathAndQuery);

        Assert.Equal([[versions[2], versions[1]], [versions[0]]], rest);
        Assert.Equal([[versions[4], versions[3], versions[2], versions[1], versions[0]]], await second.AuditPagesAsync("/admin/audit?$top=5"));
        // Nothing is older than the first ID a stream can hold: an empty last page.
        using (var oldest = await second.AdminAsync(HttpMethod.Get, "/admin/audit?$skiptoken=MC0w" /* "0-0" */))
        {
            Assert.Equal(HttpStatusCode.OK, oldest.StatusCode);
            var body = await oldest.JsonAsync();
            Assert.Empty(body["value"]!.AsArray());
            Assert.Null(body["@odata.nextLink"]);
        }

        foreach (var token in new[] { "MTIz" /* "123" */, "MTIzOmFiYw" /* "123:abc", a file position */, "YWJj" })
        {
            using var refused = await second.AdminAsync(HttpMethod.Get, $"/admin/audit?$skiptoken={token}");
            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadRequest, "'$skiptoken'");
        }
    }

    [SkippableFact]
    public async Task TwoAdminsOnTwoInstances_SameIfMatch_OneWinsTheOtherGets412()
    {
        RedisServer.SkipIfUnavailable();
        await using var fleet = await TwoInstances.StartAsync();
        var (redis, first, second) = fleet;
        var etag = first.Service<PolicySnapshotStore>().Current!.ETag;

        var results = await Task.WhenAll(
            first.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner, ifMatch: etag),
            second.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
                """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""", ifMatch: etag));

        Assert.Equal([HttpStatusCode.NoContent, HttpStatusCode.PreconditionFailed], results.Select(r => r.StatusCode).Order().ToArray());
        var audit = (await (await first.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray();
        Assert.Single(audit);

        // Only the document in force is left in Redis: neither the replaced one nor the loser's draft.
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            var documents = connection.GetServers().Single().Keys(pattern: "xtac:policy:doc:*").Select(k => k.ToString()).ToArray();
            var current = first.Service<PolicySnapshotStore>().Current!.ETag.Trim('"');
            Assert.True(documents.Length == 1 && documents[0].EndsWith(current, StringComparison.Ordinal), string.Join(", ", documents));
        }

        // Without If-Match the loser's PATCH is applied on top of the winner's: both changes survive.
        using var retry = await second.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.AllowedPartner}",
            """{ "inboundTrust": { "isMfaAccepted": false, "isCompliantDeviceAccepted": null, "isHybridAzureADJoinedDeviceAccepted": null } }""");
        Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        Assert.True(await AdminClient.EventuallyAsync(() => Task.FromResult(first.Service<PolicySnapshotStore>().Current!.Version == retry.PolicyVersion()), Deadline));
        var document = first.Service<PolicySnapshotStore>().Current!.Document;
        Assert.False(document.Partners.Single(p => p.TenantId == TestIds.AllowedPartner.ToString()).InboundTrust!.IsMfaAccepted);
        if (results[0].StatusCode == HttpStatusCode.NoContent)
        {
            Assert.Equal("allowed", document.Partners.Single(p => p.TenantId == TestIds.BlockedPartner.ToString()).B2bDirectConnectInbound!.UsersAndGroups!.AccessType);
        }
        else
        {
            Assert.True(document.Default!.InboundTrust!.IsMfaAccepted);
        }
    }

    [SkippableFact]
    public async Task TwoAdminsOnTwoInstances_IfMatchStar_BothChangesApplied()
    {
        // "*" pins no version: the instance that loses the race applies its change on the winner's policy, as without If-Match.
        RedisServer.SkipIfUnavailable();
        await using var fleet = await TwoInstances.StartAsync();
        var (_, first, second) = fleet;

        for (var round = 0; round < 4; round++)
        {
            var mfaAccepted = round % 2 == 0 ? "true" : "false";
            var results = await Task.WhenAll(
                first.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
                    $$"""{ "inboundTrust": { "isMfaAccepted": {{mfaAccepted}}, "isCompliantDeviceAccepted": null, "isHybridAzureADJoinedDeviceAccepted": null } }""", ifMatch: "*"),
                second.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
                    $$"""{ "inboundTrust": { "isMfaAccepted": {{mfaAccepted}}, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""", ifMatch: "*"));

            Assert.All(results, r => Assert.Equal(HttpStatusCode.NoContent, r.StatusCode));
            var version = results.Max(r => r.PolicyVersion());
            Assert.True(await AdminClient.EventuallyAsync(() => Task.FromResult(first.Service<PolicySnapshotStore>().Current!.Version == version), Deadline));
            var document = first.Service<PolicySnapshotStore>().Current!.Document;
            Assert.Equal(round % 2 == 0, document.Partners.Single(p => p.TenantId == TestIds.BlockedPartner.ToString()).InboundTrust!.IsMfaAccepted);
            Assert.Equal(round % 2 == 0, document.Default!.InboundTrust!.IsMfaAccepted);
        }
    }

    [SkippableFact]
    public async Task Audit_StreamHoldsUnreadableEntries_ReadableOnesStillListed()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);
        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);

        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            var db = connection.GetDatabase();
            await db.StreamAddAsync("xtac:policy:audit", "entry", "{ not json");
            await db.StreamAddAsync("xtac:policy:audit", "other", "no entry field");
        }

        using var response = await gateway.AdminAsync(HttpMethod.Get, "/admin/audit");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var audit = (await response.JsonAsync())["value"]!.AsArray();
        Assert.Equal("Update a partner cross-tenant access setting", (string?)Assert.Single(audit)!["activityDisplayName"]);
    }

    [SkippableFact]
    public async Task Edit_Committed_StreamEntryCarriesTheVersionAndETagInForce()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);

        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        var inForce = gateway.Service<PolicySnapshotStore>().Current!;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var stream = await connection.GetDatabase().StreamRangeAsync("xtac:policy:audit");
        var entry = System.Text.Json.Nodes.JsonNode.Parse((string)Assert.Single(stream)["entry"]!)!;
        Assert.Equal(inForce.Version, (long)entry["policyVersion"]!);
        Assert.Equal(inForce.ETag, (string?)entry["policyETag"]);
        Assert.Equal(TestIds.BlockedPartner.ToString(), (string?)entry["targetTenantId"]);
        Assert.Equal("Update a partner cross-tenant access setting", (string?)entry["activityDisplayName"]);
    }

    [SkippableFact]
    public async Task Edit_AuditStreamCannotBeWritten_503AndNothingChanged()
    {
        // A change is never in force without its audit entry: the entry is written in the same script as the pointer,
        // so Redis refusing it (a string stored under the stream's name) refuses the change.
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        var before = gateway.Service<PolicySnapshotStore>().Current!;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var pointer = await db.StringGetAsync("xtac:policy:current");
        await db.StringSetAsync("xtac:policy:audit", "not a stream");

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, patch.StatusCode);
        Assert.Contains("WRONGTYPE", await patch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(pointer, await db.StringGetAsync("xtac:policy:current"));
        Assert.Same(before, gateway.Service<PolicySnapshotStore>().Current);
        Assert.Equal(HttpStatusCode.Forbidden, await DecideAsync(gateway, TestIds.BlockedPartner));
        var documents = connection.GetServers().Single().Keys(pattern: "xtac:policy:doc:*").Select(k => k.ToString()).ToArray();
        Assert.True(documents.Length == 1 && documents[0].EndsWith(before.ETag.Trim('"'), StringComparison.Ordinal), string.Join(", ", documents));

        // Reading the log answers the same way: Redis refused, so the log is unavailable, not a server error.
        using var audit = await gateway.AdminAsync(HttpMethod.Get, "/admin/audit");
        await ProblemAssert.IsProblemAsync(audit, HttpStatusCode.ServiceUnavailable, "WRONGTYPE");
    }

    [SkippableFact]
    public async Task Edit_PointerKeyOfAnotherType_503NamingTheKey()
    {
        // WRONGTYPE from Redis (someone stored a list under the pointer's name): unavailable, not a 500.
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        var before = gateway.Service<PolicySnapshotStore>().Current!;
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            var db = connection.GetDatabase();
            await db.KeyDeleteAsync("xtac:policy:current");
            await db.ListLeftPushAsync("xtac:policy:current", "not a pointer");
        }

        foreach (var ifMatch in new[] { null, before.ETag })
        {
            using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner, ifMatch);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, patch.StatusCode);
            Assert.Contains("WRONGTYPE", await patch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Same(before, gateway.Service<PolicySnapshotStore>().Current);
    }

    [SkippableFact]
    public async Task Sync_RedisHoldsAnInvalidPolicy_CountedInvalidNotFailedAndPolicyKept()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        var store = gateway.Service<PolicySnapshotStore>();
        var before = store.Current!;
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);

        // A newer version whose document names the resource tenant as its own partner: Redis answered, the policy is wrong.
        var invalid = TestPolicies.Document(TestPolicies.Partner(TestIds.ResourceTenant, TestPolicies.AllowedAll));
        // Stored as the gateway stores documents (a distributed-cache entry), so only its content is wrong.
        await gateway.Service<Microsoft.Extensions.Caching.Distributed.IDistributedCache>().SetAsync(
            "xtac:policy:doc:00000000000000000000bad0", System.Text.Encoding.UTF8.GetBytes(invalid), new Microsoft.Extensions.Caching.Distributed.DistributedCacheEntryOptions());
        await connection.GetDatabase().StringSetAsync("xtac:policy:current", $"{before.Version + 1} \"00000000000000000000bad0\"");

        await reloads.WaitForAsync("invalid", Deadline);
        Assert.True(await AdminClient.EventuallyAsync(() => Task.FromResult(store.SourceState == PolicySourceState.Degraded), Deadline));
        Assert.DoesNotContain("failure", reloads.Results);
        Assert.Same(before, store.Current);

        // An admin asking for a reload is told what is wrong, with its JSON path, not only that something is.
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        var detail = (string?)(await reload.JsonAsync())["detail"];
        Assert.Contains($"The policy version {before.Version + 1} in Redis is invalid, with 1 error(s)", detail, StringComparison.Ordinal);
        Assert.Contains("$.partners[0].tenantId", detail, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Sync_PointerMalformed_PolicyInForceKeptAndHostKeepsRunning()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        var store = gateway.Service<PolicySnapshotStore>();
        var before = store.Current!;
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);

        await connection.GetDatabase().StringSetAsync("xtac:policy:current", "7");

        using (var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
            Assert.Contains("'xtac:policy:current' holds '7'", await reload.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // With or without If-Match: a 503 naming the key, not a 412 that re-reading could never get past.
        foreach (var ifMatch in new[] { null, before.ETag })
        {
            using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner, ifMatch);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, patch.StatusCode);
            Assert.Contains("'xtac:policy:current'", await patch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The background check meets the same pointer, again and again: it reports the store degraded and keeps the host up.
        var failuresSoFar = reloads.Results.Count(r => r == "failure");
        Assert.True(await AdminClient.EventuallyAsync(() => Task.FromResult(reloads.Results.Count(r => r == "failure") >= failuresSoFar + 2), Deadline),
            "the background check did not meet the pointer twice");
        Assert.Equal(PolicySourceState.Degraded, store.SourceState);
        Assert.False(gateway.App.Lifetime.ApplicationStopping.IsCancellationRequested, "the malformed pointer stopped the gateway");
        Assert.Same(before, store.Current);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(gateway, TestIds.AllowedPartner));
        Assert.Equal(HttpStatusCode.Forbidden, await DecideAsync(gateway, TestIds.BlockedPartner));
    }

    [SkippableFact]
    public async Task Sync_DocumentInForceDeleted_StoredAgainByAnInstanceHoldingIt()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await StartLoggingAsync(redis);
        var current = gateway.Service<PolicySnapshotStore>().Current!;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var documentKey = $"xtac:policy:doc:{current.ETag.Trim('"')}";

        // Evicted under a maxmemory policy, or deleted by hand: no instance starting now could load the policy.
        Assert.True(await db.KeyDeleteAsync(documentKey));

        // The document is stored, then the warning logged: wait for the second.
        Assert.True(await AdminClient.EventuallyAsync(
            () => Task.FromResult(gateway.App.Services.GetFakeLogCollector().GetSnapshot().Any(r => r.Id.Id == 1114)), Deadline),
            "the instance holding the policy did not store its document again");
        Assert.True(await db.KeyExistsAsync(documentKey));
        var record = Assert.Single(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 1114);
        Assert.Contains(documentKey, record.Message, StringComparison.Ordinal);
        // What it stored is the policy: an instance started now loads it.
        await using var started = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        Assert.Equal(current.ETag, started.Service<PolicySnapshotStore>().Current!.ETag);
        Assert.Equal(PolicySourceState.Healthy, started.Service<PolicySnapshotStore>().SourceState);
    }

    [SkippableFact]
    public async Task Sweep_DocumentNoPointerNames_DeletedOnlyItAndOnlyInItsFleet()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        // Left by a change whose answer never came; and another fleet's documents, under prefixes that start alike.
        const string orphan = "xtac:policy:doc:0123456789abcdef01234567";
        // The last: the pointer of a fleet whose prefix is 'xtac:policy:doc:x', which this fleet's pattern matches too.
        string[] othersFleets = ["xtac:policy:eu:doc:0123456789abcdef01234567", "xtac:policyX:doc:0123456789abcdef01234567", "xtac:policy:doc:x:current"];
        foreach (var key in othersFleets.Append(orphan))
        {
            await db.HashSetAsync(key, "data", "{}");
        }

        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
        {
            RedisSettings(redis.ConnectionString)(s);
            s["Xtac:Policy:Redis:DocumentSweepInterval"] = "00:00:00.200";
        }, configureBuilder: b => FakeLogs.Enable(b));
        var inForce = $"xtac:policy:doc:{gateway.Service<PolicySnapshotStore>().Current!.ETag.Trim('"')}";

        // Deleted, then logged: wait for the second.
        Assert.True(await AdminClient.EventuallyAsync(
            () => Task.FromResult(gateway.App.Services.GetFakeLogCollector().GetSnapshot().Any(r => r.Id.Id == 1115)), Deadline),
            "the unnamed document was not deleted");
        Assert.False(await db.KeyExistsAsync(orphan));
        Assert.True(await db.KeyExistsAsync(inForce), "the document in force was deleted");
        foreach (var key in othersFleets)
        {
            Assert.True(await db.KeyExistsAsync(key), $"{key}, another fleet's, was deleted");
        }

        var deleted = Assert.Single(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 1115);
        Assert.Contains(orphan, deleted.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(gateway, TestIds.AllowedPartner));
    }

    [SkippableTheory]
    [InlineData("7", "holds '7', not '<version> <etag>'")]
    // Written by hand (or its document evicted): a pointer naming a document nobody has.
    [InlineData("{next} \"0123456789abcdef01234567\"", "document 'xtac:policy:doc:0123456789abcdef01234567' does not exist")]
    public async Task Reload_PointerMalformedOrNamingAMissingDocument_503NamingItCountedWithoutWaitingForTheCheck(string pointer, string detailPart)
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        // No background check during the test: only the on-demand reload can have seen the pointer.
        await using var gateway = await StartCheckingOnlyWhenToldAsync(redis);
        var store = gateway.Service<PolicySnapshotStore>();
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        Assert.Equal(PolicySourceState.Healthy, store.SourceState);

        await connection.GetDatabase().StringSetAsync("xtac:policy:current",
            pointer.Replace("{next}", (store.Current!.Version + 1).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, reload.StatusCode);
        var detail = (string?)(await reload.JsonAsync())["detail"];
        Assert.Contains(detailPart, detail, StringComparison.Ordinal);
        Assert.DoesNotContain("kept moving", detail, StringComparison.Ordinal);
        Assert.Contains("failure", reloads.Results);
        Assert.Equal(PolicySourceState.Degraded, store.SourceState);
    }

    [SkippableFact]
    public async Task Sync_RedisRestoredToAnOlderVersion_PolicyInForceWrittenBack()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
        var store = gateway.Service<PolicySnapshotStore>();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        // A backup taken now: the pointer and the document it names.
        var oldPointer = (string)(await db.StringGetAsync("xtac:policy:current"))!;
        var oldDocumentKey = $"xtac:policy:doc:{store.Current!.ETag.Trim('"')}";
        var oldDocument = await db.HashGetAllAsync(oldDocumentKey);
        Assert.NotEmpty(oldDocument);

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);
        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        var changed = store.Current!;
        var lastChange = (string?)await db.StringGetAsync("xtac:policy:lastchange");
        Assert.NotNull(lastChange);

        // Redis restored from that backup (or failed over to a replica that never saw the change).
        await db.HashSetAsync(oldDocumentKey, oldDocument);
        await db.StringSetAsync("xtac:policy:current", oldPointer);
        await connection.GetSubscriber().PublishAsync(RedisChannel.Literal("xtac:policy:changes"), oldPointer);

        // Redis is written first, then the instance takes the new version: wait for both.
        Assert.True(await AdminClient.EventuallyAsync(async () => (string?)await db.StringGetAsync("xtac:policy:current") is { } pointer && pointer.EndsWith(changed.ETag, StringComparison.Ordinal)
            && store.Current!.Version > changed.Version, Deadline),
            "the acknowledged change was not written back to Redis under a new version");
        Assert.Equal(changed.ETag, store.Current!.ETag);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(gateway, TestIds.BlockedPartner));
        // The gateway's own write-back is no admin change: the last admin change is still the patch's.
        Assert.Equal(lastChange, (string?)await db.StringGetAsync("xtac:policy:lastchange"));

        // The write-back is a change no admin made: audited, newest first, by the gateway for the resource tenant.
        var audit = (await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray();
        Assert.Equal(2, audit.Count);
        var restored = audit[0]!;
        Assert.Equal("Restore the cross-tenant access setting lost by the policy store", (string?)restored["activityDisplayName"]);
        Assert.Equal(store.Current!.Version, (long)restored["policyVersion"]!);
        Assert.Equal(changed.ETag, (string?)restored["policyETag"]);
        Assert.Null(restored["initiatedBy"]!["objectId"]);
        Assert.Equal(TestIds.ResourceTenant.ToString(), (string?)restored["initiatedBy"]!["tenantId"]);
        var property = Assert.Single(restored["modifiedProperties"]!.AsArray())!;
        Assert.Equal("policyVersion", (string?)property["displayName"]);
        Assert.Equal(long.Parse(oldPointer.Split(' ')[0], CultureInfo.InvariantCulture), (long)property["oldValue"]!);
        Assert.Equal(changed.Version, (long)property["newValue"]!);
    }

    [SkippableFact]
    public async Task Sync_RedisWentBackThenWrittenByAnotherInstance_TakesRedisAndKeepsTheLostPolicyOnDisk()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var first = await StartLoggingAsync(redis);
        var store = first.Service<PolicySnapshotStore>();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        // Two changes, so the one made on what is left takes a lower version, not the same one (event 1111's case).
        var (_, _, lost) = await TwoChangesAsync(first, connection.GetDatabase());

        // A replica that saw neither change (the seed, version 1), where an instance started since makes another: on a
        // Redis of its own, so that this instance cannot see the replica before that change and write its policy back.
        await using var replica = await RedisServer.StartAsync();
        var taken = await ChangeMadeOnAsync(replica);

        Assert.True(taken.Version < lost.Version, $"the other change took version {taken.Version}, not one below {lost.Version}");

        // The failover, seen from this instance: Redis now holds what the replica holds, audit stream included.
        await FailOverAsync(replica, redis, taken.ETag);

        // Putting the lost policy back would undo that admin's change: Redis's is taken, and the lost one kept on disk.
        // The policy is taken, then the lost one kept on disk and the loss logged: wait for the log.
        await AssertLostPolicyKeptAsync(first, 1113, lost);
        Assert.Equal(taken.ETag, store.Current!.ETag);
        Assert.Equal($"{taken.Version} {taken.ETag}", (string?)await connection.GetDatabase().StringGetAsync("xtac:policy:current"));
        Assert.Equal(HttpStatusCode.Forbidden, await DecideAsync(first, TestIds.BlockedPartner));
        Assert.DoesNotContain(first.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 1110);
    }

    [SkippableFact]
    public async Task Sync_RedisWentBackAndALaggingInstanceWroteBackUnderTheSameVersion_WritesTheNewerPolicyBack()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var first = await StartLoggingAsync(redis);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var (lagging, laggingDocument, newest) = await TwoChangesAsync(first, connection.GetDatabase());

        // The lagging instance writes its policy back under the next number after what is left: the newest one's.
        await LaggingWriteBackAsync(connection, lagging, laggingDocument, newest.Version);

        // No admin changed anything after the loss.
        await AssertWrittenBackAsync(first, connection.GetDatabase(), newest);
    }

    [SkippableFact]
    public async Task Sync_NoAdminChangeRecordedAndALaggingWriteBackUnderTheSameVersion_WritesTheNewerPolicyBack()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        PolicySnapshot lagging, newest;
        byte[] laggingDocument;
        await using (var older = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString)))
        {
            (lagging, laggingDocument, newest) = await TwoChangesAsync(older, db);
        }

        // Made by a gateway that recorded no last admin change (as before this was recorded at all).
        Assert.True(await db.KeyDeleteAsync("xtac:policy:lastchange"));
        // This instance reads the newest policy, and that no admin change is recorded: that much it knows.
        await using var first = await StartLoggingAsync(redis);
        Assert.Equal(newest.ETag, first.Service<PolicySnapshotStore>().Current!.ETag);

        await LaggingWriteBackAsync(connection, lagging, laggingDocument, newest.Version);

        // Still no admin change recorded: nothing was changed there since, only lost.
        await AssertWrittenBackAsync(first, db, newest);
    }

    [SkippableFact]
    public async Task Sync_RedisWentBackAndAnotherChangeTookTheSameVersion_TakesRedisAndLogsTheLostOne()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await using var first = await StartLoggingAsync(redis);
        using (var lost = await first.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner))
        {
            Assert.Equal(HttpStatusCode.NoContent, lost.StatusCode);
        }

        var lostChange = first.Service<PolicySnapshotStore>().Current!;

        // The other change, made where Redis stood before the first one (the seed, version 1): on a Redis of its own,
        // so that this instance never sees the older version and writes its change back first (event 1110's case).
        await using var replica = await RedisServer.StartAsync();
        var taken = await ChangeMadeOnAsync(replica);

        Assert.Equal(lostChange.Version, taken.Version);
        Assert.NotEqual(lostChange.ETag, taken.ETag);

        // Redis comes back holding the other change under the same version: the failover, seen from this instance.
        await FailOverAsync(replica, redis, taken.ETag);

        // The policy is taken, then the lost one kept on disk and the loss logged: wait for the log.
        var record = await AssertLostPolicyKeptAsync(first, 1111, lostChange);
        Assert.Equal(taken.ETag, first.Service<PolicySnapshotStore>().Current!.ETag);
        Assert.Contains(lostChange.ETag, record.Message, StringComparison.Ordinal);
        Assert.Contains(taken.ETag, record.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Sync_RedisStoppedThenBack_KeepsDecidingDegradedThenTakesAChange()
    {
        RedisServer.SkipIfUnavailable();
        await using var fleet = await TwoInstances.StartAsync();
        var (redis, first, second) = fleet;
        using var reloads = new PolicyReloads(second.Service<IMeterFactory>());

        await redis.StopAsync();

        Assert.True(await AdminClient.EventuallyAsync(async () =>
        {
            using var ready = await second.Management.GetAsync("/readyz");
            return ready.StatusCode == HttpStatusCode.OK && (await ready.Content.ReadAsStringAsync()).Contains("Degraded", StringComparison.Ordinal);
        }, Deadline), "/readyz did not report the Redis store as degraded");
        await reloads.WaitForAsync("failure", Deadline);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(second, TestIds.AllowedPartner));
        Assert.Equal(HttpStatusCode.Forbidden, await DecideAsync(second, TestIds.BlockedPartner));
        using (var refused = await first.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            // Refused before anything was sent: "nothing changed", not the "may have applied it" of a change in flight.
            Assert.StartsWith("Redis cannot be reached", (string?)(await refused.JsonAsync())["detail"], StringComparison.Ordinal);
        }

        await redis.StartAgainAsync();

        // Redis came back empty (no persistence): an instance re-seeds it from the policy in force, then a change goes through.
        Assert.True(await AdminClient.EventuallyAsync(async () =>
        {
            using var patch = await first.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);
            return patch.StatusCode == HttpStatusCode.NoContent;
        }, Deadline), "the change was not accepted after Redis came back");
        Assert.True(await AdminClient.EventuallyAsync(async () => await DecideAsync(second, TestIds.BlockedPartner) == HttpStatusCode.OK, Deadline),
            "the second instance did not pick up the change made after Redis came back");
        Assert.True(await AdminClient.EventuallyAsync(() => Task.FromResult(second.Service<PolicySnapshotStore>().SourceState == PolicySourceState.Healthy), Deadline));
    }

    [SkippableFact]
    public async Task Start_RedisUpWithinStartupWait_StartsWithTheSharedPolicyNotDegraded()
    {
        // A gateway starting next to its Redis (or with a first connection slower than the connect timeout) must not
        // start without a policy, failing every cross-tenant request until its first retry.
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        var settings = RedisSettings(redis.ConnectionString);

        var waiting = new LogEventSignal(1112);
        var starting = GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
        {
            settings(s);
            s["Xtac:Policy:Redis:StartupWait"] = "00:00:30";
        }, configureBuilder: waiting.AttachTo);

        // Redis comes back only once the gateway has found it unreachable and said it is waiting.
        Assert.True(await Task.WhenAny(waiting.Seen, starting, Task.Delay(TimeSpan.FromSeconds(30))) == waiting.Seen, "the gateway did not wait for Redis");
        await redis.StartAgainAsync();
        await using var gateway = await starting;

        Assert.NotNull(gateway.Service<PolicySnapshotStore>().Current);
        Assert.Equal(HttpStatusCode.Forbidden, await DecideAsync(gateway, TestIds.BlockedPartner));
        using var ready = await gateway.Management.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.DoesNotContain("Degraded", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Start_PointerMalformed_StartsFromTheLastKnownGoodInsteadOfFailing()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        using var temp = new TempDirectory("xtac-lkg-");
        var directory = temp.Path;
        long version;
        await using (var gateway = await StartSavingInAsync(redis, directory))
        {
            version = gateway.Service<PolicySnapshotStore>().Current!.Version;
        }

        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
        {
            await connection.GetDatabase().StringSetAsync("xtac:policy:current", "7");
        }

        // A redeploy while Redis holds something unusable: no crash loop.
        await using var restarted = await StartSavingInAsync(redis, directory);
        Assert.Equal(version, restarted.Service<PolicySnapshotStore>().Current!.Version);
        Assert.Equal(PolicySourceState.Degraded, restarted.Service<PolicySnapshotStore>().SourceState);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(restarted, TestIds.AllowedPartner));
    }

    [SkippableFact]
    public async Task Start_RedisDownAfterARestart_StartsFromThePersistedLastKnownGood()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        using var temp = new TempDirectory("xtac-lkg-");
        var directory = temp.Path;
        var version = await AllowBlockedPartnerThenStopAsync(redis, directory);

        await redis.StopAsync();

        // The seed file still blocks the partner; only the last known good document allows it.
        await using var restarted = await StartSavingInAsync(redis, directory);
        Assert.Equal(version, restarted.Service<PolicySnapshotStore>().Current!.Version);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(restarted, TestIds.BlockedPartner));
        using var ready = await restarted.Management.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("Degraded", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Start_RedisEmptiedAfterARestart_SeedsFromTheLastKnownGoodNotTheSeedFile()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        using var temp = new TempDirectory("xtac-lkg-");
        var directory = temp.Path;
        var version = await AllowBlockedPartnerThenStopAsync(redis, directory);

        // Redis restarted without persistence while no instance ran: it comes back empty.
        await redis.StopAsync();
        await redis.StartAgainAsync();

        // The seed file still blocks the partner; the change made before the restart must not be undone.
        await using var restarted = await StartSavingInAsync(redis, directory);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(restarted, TestIds.BlockedPartner));
        Assert.Equal(PolicySourceState.Healthy, restarted.Service<PolicySnapshotStore>().SourceState);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var pointer = (string?)await connection.GetDatabase().StringGetAsync("xtac:policy:current");
        Assert.NotNull(pointer);
        Assert.Equal(version + 1, long.Parse(pointer.Split(' ')[0], CultureInfo.InvariantCulture));
        Assert.Equal(version + 1, restarted.Service<PolicySnapshotStore>().Current!.Version);

        // Putting back what Redis lost is a change no admin made: audited as the gateway's.
        var entry = Assert.Single((await (await restarted.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray())!;
        Assert.Equal("Restore the cross-tenant access setting lost by the policy store", (string?)entry["activityDisplayName"]);
        Assert.Equal(version + 1, (long)entry["policyVersion"]!);
        var property = Assert.Single(entry["modifiedProperties"]!.AsArray())!;
        Assert.Equal(0, (long)property["oldValue"]!);
        Assert.Equal(version, (long)property["newValue"]!);
    }

    [SkippableFact]
    public async Task Start_RedisDownAndLastKnownGoodUnconfirmedPastMaxAge_EnforcedButNotReady()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        using var temp = new TempDirectory("xtac-lkg-");
        var directory = temp.Path;
        string savedPath;
        await using (var gateway = await StartSavingInAsync(redis, directory))
        {
            using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);
            Assert.True(patch.StatusCode == HttpStatusCode.NoContent, $"{(int)patch.StatusCode} {patch.Headers.RetryAfter} {await patch.Content.ReadAsStringAsync()}");
            savedPath = gateway.Service<LastKnownGoodStore>().Path;

            // Each check that finds the policy unchanged moves the saved file's time: it says when Redis last confirmed it.
            var savedAt = File.GetLastWriteTimeUtc(savedPath);
            Assert.True(await Eventually.TrueAsync(() => Task.FromResult(File.GetLastWriteTimeUtc(savedPath) > savedAt.AddSeconds(1)), TimeSpan.FromSeconds(5)),
                "the last-known-good file was not touched when Redis confirmed its policy");
        }

        await redis.StopAsync();
        File.SetLastWriteTimeUtc(savedPath, DateTime.UtcNow.AddMinutes(-11));

        // Restored and enforced (denying nothing it should allow), but 11 minutes unconfirmed is past the 10-minute default bound.
        await using var restarted = await StartSavingInAsync(redis, directory);
        Assert.Equal(HttpStatusCode.OK, await DecideAsync(restarted, TestIds.BlockedPartner));
        using var ready = await restarted.Management.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        // From the file's time (660 s ago when set), whatever the restart itself took on a loaded machine.
        var body = await ready.Content.ReadAsStringAsync();
        var age = System.Text.RegularExpressions.Regex.Match(body, "last confirmed by its source ([0-9]+) s ago");
        Assert.True(age.Success, body);
        Assert.InRange(int.Parse(age.Groups[1].Value, CultureInfo.InvariantCulture), 660, 780);
    }

    [SkippableFact]
    public async Task Start_RedisDownAndNothingSaved_FailsClosedForCrossTenantCallersOnly()
    {
        RedisServer.SkipIfUnavailable();
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();

        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));

        Assert.Null(gateway.Service<PolicySnapshotStore>().Current);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await gateway.Management.GetAsync("/readyz")).StatusCode);
        using var denied = await gateway.GetAsync("/", gateway.Token(TestIds.AllowedPartner));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, denied.StatusCode);
        Assert.Contains("PolicyUnavailable", await denied.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Xtac:Policy:RetryMinDelay is 100 ms here: a whole second, the header's smallest.
        Assert.Equal(TimeSpan.FromSeconds(1), denied.Headers.RetryAfter?.Delta);
        Assert.Empty(gateway.Backend.Requests);

        // The resource tenant's own users need no cross-tenant settings (domain.md 6a step 2): they still get through,
        // and the app's grant controls still apply to them.
        using var internalUser = await gateway.GetAsync("/", gateway.Token(TestIds.ResourceTenant));
        Assert.Equal(HttpStatusCode.OK, internalUser.StatusCode);
        Assert.Equal("InternalUser", Assert.Single(gateway.Backend.Requests).Headers["X-Xtac-Decision"]);
        using var internalWithoutMfa = await gateway.GetAsync("/mfa/x", gateway.Token(TestIds.ResourceTenant));
        Assert.Equal(HttpStatusCode.Forbidden, internalWithoutMfa.StatusCode);
        Assert.Contains("MfaRequired", await internalWithoutMfa.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Cluster_HashTaggedPrefix_PatchOnOneInstanceReachesTheOtherWithItsAuditEntry()
    {
        RedisCluster.SkipIfUnavailable();
        await using var cluster = await RedisCluster.StartAsync();
        await using var first = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(cluster.ConnectionString, "{xtac:policy}"));
        await using var second = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(cluster.ConnectionString, "{xtac:policy}"));
        Assert.Equal(first.Service<PolicySnapshotStore>().Current!.ETag, second.Service<PolicySnapshotStore>().Current!.ETag);

        using var patch = await first.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}", AllowBlockedPartner);

        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        Assert.True(await AdminClient.EventuallyAsync(async () => await DecideAsync(second, TestIds.BlockedPartner) == HttpStatusCode.OK, TimeSpan.FromSeconds(2)),
            "the second instance did not enforce the change made on the first within 2 s");
        var audit = (await (await second.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray();
        Assert.Equal(patch.PolicyVersion(), (long)Assert.Single(audit)!["policyVersion"]!);
    }

    [SkippableFact]
    public async Task Start_ClusterAndPrefixWithoutHashTag_RefusesNamingTheFix()
    {
        // Without a hash tag the pointer, documents and audit stream fall in different slots: every change would fail
        // with CROSSSLOT, so the gateway refuses to start and says what to set.
        RedisCluster.SkipIfUnavailable();
        await using var cluster = await RedisCluster.StartAsync();

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(cluster.ConnectionString)));

        var messages = ProblemAssert.AllMessages(failure);
        Assert.Contains("is a Redis Cluster", messages, StringComparison.Ordinal);
        Assert.Contains("Set it to '{xtac:policy}'", messages, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{xtac:policy}", true)]
    [InlineData("fleet-{a}:policy", true)]
    [InlineData("xtac:policy", false)]
    [InlineData("{}xtac:policy", false)]
    [InlineData("xtac:{policy", false)]
    [InlineData("}xtac{", false)]
    public void HasHashTag_Prefix_TrueOnlyWhenRedisHashesPartOfIt(string prefix, bool expected)
        => Assert.Equal(expected, RedisPolicySource.HasHashTag(prefix));

    /// <summary>Two gateways on one real Redis, disposed in the reverse order they started.</summary>
    private sealed class TwoInstances(RedisServer redis, GatewayHarness first, GatewayHarness second) : IAsyncDisposable
    {
        public static async Task<TwoInstances> StartAsync()
        {
            var redis = await RedisServer.StartAsync();
            var first = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
            var second = await GatewayHarness.StartAsync(TestPolicies.Standard(), RedisSettings(redis.ConnectionString));
            return new TwoInstances(redis, first, second);
        }

        public void Deconstruct(out RedisServer server, out GatewayHarness one, out GatewayHarness other)
            => (server, one, other) = (redis, first, second);

        public async ValueTask DisposeAsync()
        {
            await second.DisposeAsync();
            await first.DisposeAsync();
            await redis.DisposeAsync();
        }
    }
}
