using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using XtacGateway.Policies;
using XtacGateway.Tests.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Policies;

/// <summary>The policy file at start-up and while the gateway runs, plus the start-up checks of the gateway's own settings.</summary>
public sealed class FilePolicySourceTests
{
    /// <summary>Issue 3's promise for a valid edit, held to by the one test named for it.</summary>
    private static readonly TimeSpan PromisedReload = TimeSpan.FromSeconds(2);

    /// <summary>
    /// For every other test, which needs the reload to happen and not how soon: generous, so a loaded machine does not
    /// fail them (a reload that never comes still does).
    /// </summary>
    private static readonly TimeSpan ReloadDeadline = TimeSpan.FromSeconds(15);

    /// <summary>The standard policy with the allowed partner turned around: now blocked.</summary>
    private static string PartnerNowBlocked => TestPolicies.Document(
        TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.BlockedAll),
        TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.BlockedAll));

    /// <summary>Valid JSON, invalid policy: an unknown accessType (path <c>$.partners[0].b2bDirectConnectInbound.applications.accessType</c>).</summary>
    private static string InvalidPolicy => TestPolicies.Document(
        TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.Half("blocked", "AllUsers", "user", "AllApplications", appAccess: "maybe")));

    [Fact]
    public async Task Reload_ValidEdit_ChangesDecisionsWithinTwoSecondsAndRaisesVersion()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(TestIds.AllowedPartner);
        using (var before = await gateway.GetAsync("/orders", token))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        var versionBefore = await gateway.PolicyVersionAsync();

        await gateway.WritePolicyAsync(PartnerNowBlocked);

        var denied = await gateway.EventuallyAnswersAsync("/orders", token, HttpStatusCode.Forbidden, PromisedReload);
        Assert.True(denied, $"the allowed partner was still let in {PromisedReload} after the policy file blocked it");
        Assert.True(await gateway.PolicyVersionAsync() > versionBefore);

        // Once switched, it stays switched: every later request is denied and none reaches the app.
        var forwardedAtSwitch = gateway.Backend.Requests.Count;
        for (var i = 0; i < 10; i++)
        {
            using var after = await gateway.GetAsync("/orders", token);
            await ProblemAssert.ForbiddenAsync(after, "InboundPolicyBlocked", "AADSTS500213", TestIds.AllowedPartner);
        }

        Assert.Equal(forwardedAtSwitch, gateway.Backend.Requests.Count);
    }

    [Fact]
    public async Task Reload_EditOpeningAccess_LetsUnlistedTenantIn()
    {
        // The other direction: a blocked caller is admitted once the file admits it.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var token = gateway.Token(TestIds.UnlistedTenant);
        using (var before = await gateway.GetAsync("/orders", token))
        {
            await ProblemAssert.ForbiddenAsync(before, "InboundPolicyBlocked", "AADSTS500213", TestIds.UnlistedTenant);
        }

        await gateway.WritePolicyAsync(TestPolicies.Document(TestPolicies.Partner(TestIds.UnlistedTenant, TestPolicies.AllowedAll)));

        var allowed = await gateway.EventuallyAnswersAsync("/orders", token, HttpStatusCode.OK, ReloadDeadline);
        Assert.True(allowed, $"the newly listed partner was not let in within {ReloadDeadline}");
        Assert.Equal(TestIds.UnlistedTenant.ToString(), Assert.Single(gateway.Backend.Requests).Headers["X-Xtac-Home-Tenant-Id"]);
    }

    [Fact]
    public async Task Reload_InvalidEdit_KeepsPolicyAndVersion()
    {
        // Content checked every second: the unchanged invalid edit is read again, but not rejected (and counted) again.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:FileContentCheckInterval"] = "00:00:01");
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        var allowedToken = gateway.Token(TestIds.AllowedPartner);
        var blockedToken = gateway.Token(TestIds.BlockedPartner);
        var versionBefore = await gateway.PolicyVersionAsync();

        await gateway.WritePolicyAsync(InvalidPolicy);

        // The watcher has looked at the invalid file...
        await reloads.WaitForAsync("invalid", ReloadDeadline);
        // ...and for the next ~1.5 s (many watcher ticks) the old policy stays in force.
        await AssertOldPolicyDecidesAsync(gateway, allowedToken, blockedToken, TimeSpan.FromSeconds(1.5));

        Assert.Equal(versionBefore, await gateway.PolicyVersionAsync());
        Assert.DoesNotContain("success", reloads.Results);
        Assert.Single(reloads.Results, r => r == "invalid");
        Assert.All(gateway.Backend.Requests, r => Assert.Equal(TestIds.AllowedPartner.ToString(), r.Headers["X-Xtac-Home-Tenant-Id"]));
    }

    [Fact]
    public async Task Reload_FileWrittenInPlaceAndSeenHalfWritten_NotRejectedAndTheWholeFileLoaded()
    {
        // Written over in place (cat >, kubectl cp) rather than renamed: the watcher (every 100 ms here) reads the first
        // half for a while before the rest arrives. That is no rejected edit: nothing logged, counted or degraded. (A
        // settle time far longer than the test needs, so that a slow machine cannot run past it.)
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:FileWriteSettle"] = "00:00:30");
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        var store = gateway.Service<PolicySnapshotStore>();
        var versionBefore = await gateway.PolicyVersionAsync();
        var whole = PartnerNowBlocked;

        await using (var stream = new FileStream(gateway.PolicyPath, FileMode.Truncate, FileAccess.Write, FileShare.ReadWrite))
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(whole[..(whole.Length / 2)]));
            await stream.FlushAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(600));
            Assert.Empty(reloads.Results);
            Assert.Equal(PolicySourceState.Healthy, store.SourceState);
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(whole[(whole.Length / 2)..]));
        }

        Assert.True(await Eventually.TrueAsync(async () => await gateway.PolicyVersionAsync() > versionBefore, ReloadDeadline), "the whole file was not loaded");
        Assert.Equal(["success"], reloads.Results);
    }

    [Fact]
    public async Task Reload_InvalidFileWrittenInPlace_RejectedOnceItIsNoLongerBeingWritten()
    {
        // The other side: an invalid file whose writer is done is rejected, once the settle time (2 s here) has passed
        // since its last write, and not before.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:FileWriteSettle"] = "00:00:02");
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());

        var written = System.Diagnostics.Stopwatch.StartNew();
        await File.WriteAllTextAsync(gateway.PolicyPath, InvalidPolicy);

        await reloads.WaitForAsync("invalid", ReloadDeadline);
        Assert.True(written.Elapsed >= TimeSpan.FromSeconds(1.9), $"rejected {written.Elapsed} after the write, within the settle time");
        Assert.Equal(PolicySourceState.Degraded, gateway.Service<PolicySnapshotStore>().SourceState);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Commit_FileHoldsAnInvalidHandEdit_RefusedAndTheEditKept(bool watcherSawIt)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        var versionBefore = await gateway.PolicyVersionAsync();
        await gateway.WritePolicyAsync(InvalidPolicy);
        if (watcherSawIt)
        {
            await reloads.WaitForAsync("invalid", ReloadDeadline);
        }

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, patch.StatusCode);
        Assert.Contains("holds an edit that is not in force", await patch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(InvalidPolicy, await File.ReadAllTextAsync(gateway.PolicyPath));
        Assert.Equal(versionBefore, await gateway.PolicyVersionAsync());
    }

    [Fact]
    public async Task Readiness_InvalidEditInFile_DegradedThenUnreadyUntilFixed()
    {
        // The policy in force is no longer what the file says: not confirmed, so it ages out like an unreachable store.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:MaxAge"] = "00:00:04");
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        Assert.Equal((HttpStatusCode.OK, "Healthy"), await PolicyReadinessAsync(gateway));

        await gateway.WritePolicyAsync(InvalidPolicy);
        await reloads.WaitForAsync("invalid", ReloadDeadline);

        Assert.Equal((HttpStatusCode.OK, "Degraded"), await PolicyReadinessAsync(gateway));
        Assert.True(await Eventually.TrueAsync(async () => await PolicyReadinessAsync(gateway) == (HttpStatusCode.ServiceUnavailable, "Unhealthy"), TimeSpan.FromSeconds(10)),
            "an unconfirmed policy stayed ready past Xtac:Policy:MaxAge");

        await gateway.WritePolicyAsync(PartnerNowBlocked);
        Assert.True(await Eventually.TrueAsync(async () => await PolicyReadinessAsync(gateway) == (HttpStatusCode.OK, "Healthy"), ReloadDeadline),
            "a valid file did not make the gateway ready again");
    }

    [Fact]
    public async Task Health_InvalidEditThenFixed_PolicySourceCheckShowsStateSinceAndFailure()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        var healthy = await PolicySourceCheckAsync(gateway);
        Assert.Equal(("Healthy", "File", "Healthy"), (healthy.Status, healthy.Kind, healthy.State));
        Assert.Null(healthy.LastFailure);

        await gateway.WritePolicyAsync(InvalidPolicy);
        await reloads.WaitForAsync("invalid", ReloadDeadline);

        var degraded = await PolicySourceCheckAsync(gateway);
        Assert.Equal(("Degraded", "Degraded"), (degraded.Status, degraded.State));
        Assert.Contains("not in force, with 1 error(s)", degraded.LastFailure, StringComparison.Ordinal);
        Assert.Contains("$.partners[0].b2bDirectConnectInbound.applications.accessType", degraded.LastFailure, StringComparison.Ordinal);
        Assert.True(degraded.Since > healthy.Since, $"since {degraded.Since:O}, was {healthy.Since:O}");

        await gateway.WritePolicyAsync(PartnerNowBlocked);
        Assert.True(await Eventually.TrueAsync(async () => (await PolicySourceCheckAsync(gateway)) is { State: "Healthy", LastFailure: null }, ReloadDeadline),
            "the policy source did not show healthy again once the file was fixed");
    }

    /// <summary>The management listener's <c>/health</c>: the policy source check's status and data.</summary>
    private static async Task<(string? Status, string? Kind, string? State, DateTimeOffset Since, string? LastFailure)> PolicySourceCheckAsync(GatewayHarness gateway)
    {
        using var report = JsonDocument.Parse(await gateway.Management.GetStringAsync("/health"));
        var check = report.RootElement.GetProperty("checks").GetProperty("policySource");
        return (check.GetProperty("status").GetString(), check.GetProperty("kind").GetString(), check.GetProperty("state").GetString(),
            DateTimeOffset.Parse(check.GetProperty("since").GetString()!, System.Globalization.CultureInfo.InvariantCulture),
            check.TryGetProperty("lastFailure", out var failure) ? failure.GetString() : null);
    }

    [Fact]
    public async Task Readiness_FileRemovedThenPutBackUnchanged_HealthyAgain()
    {
        // mv out and back, cp -p, a restore from backup: the same content with the same time and length.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var aside = gateway.PolicyPath + ".aside";

        File.Move(gateway.PolicyPath, aside);
        Assert.True(await Eventually.TrueAsync(async () => await PolicyReadinessAsync(gateway) == (HttpStatusCode.OK, "Degraded"), ReloadDeadline),
            "a missing policy file did not show as a degraded source");
        File.Move(aside, gateway.PolicyPath);

        Assert.True(await Eventually.TrueAsync(async () => await PolicyReadinessAsync(gateway) == (HttpStatusCode.OK, "Healthy"), ReloadDeadline),
            "the policy file put back unchanged was not taken as the policy in force again");
    }

    [Fact]
    public async Task Reload_ConfigMapStyleLinkSwapped_ChangesDecisionsAndAdminWritesKeepTheLink()
    {
        // As Kubernetes mounts a ConfigMap: policy.json -> ..data/policy.json, ..data -> a timestamped directory that an
        // update replaces by swapping the ..data link. The link policy.json itself never changes.
        using var volume = new TempDirectory("xtac-configmap-");
        var mount = volume.Path;
        void Publish(string generation, string policy)
        {
            Directory.CreateDirectory(Path.Combine(mount, generation));
            File.WriteAllText(Path.Combine(mount, generation, "policy.json"), policy);
            var swap = Path.Combine(mount, "..data_tmp");
            File.CreateSymbolicLink(swap, generation);

            // rename(2) of one link over the other, as the kubelet does it (.NET's moves refuse a link to a directory).
            using var rename = System.Diagnostics.Process.Start("mv", ["-T", swap, Path.Combine(mount, "..data")]);
            rename.WaitForExit();
            Assert.Equal(0, rename.ExitCode);
        }

        Publish("..2026_11_29_a", TestPolicies.Standard());
        var link = Path.Combine(mount, "policy.json");
        File.CreateSymbolicLink(link, Path.Combine("..data", "policy.json"));
        await using var mounted = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:Path"] = link);
        var token = mounted.Token(TestIds.AllowedPartner);
        using (var before = await mounted.GetAsync("/orders", token))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        Publish("..2026_11_29_b", PartnerNowBlocked);

        Assert.True(await mounted.EventuallyAnswersAsync("/orders", token, HttpStatusCode.Forbidden, ReloadDeadline),
            $"the allowed partner was still let in {ReloadDeadline} after the mounted policy blocked it");

        // A writable mount: the change lands in the file the link names, and the link stays a link.
        using var change = await mounted.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.AllowedPartner}",
            """{ "b2bDirectConnectInbound": { "usersAndGroups": { "accessType": "allowed", "targets": [ { "target": "AllUsers", "targetType": "user" } ] }, "applications": { "accessType": "allowed", "targets": [ { "target": "AllApplications", "targetType": "application" } ] } } }""");
        Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains("\"allowed\"", File.ReadAllText(Path.Combine(mount, "..2026_11_29_b", "policy.json")), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await mounted.GetAsync("/orders", token)).StatusCode);
    }

    [Fact]
    public async Task Reload_ReplacedBySameLengthAndTime_SeenWithinTheContentCheckInterval()
    {
        // A file written in the same clock tick, or copied with its time kept (cp -p, rsync -a), looks unchanged by its
        // time and length: "allowed" and "blocked" are the same length.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:FileContentCheckInterval"] = "00:00:01");
        var token = gateway.Token(TestIds.AllowedPartner);
        using (var before = await gateway.GetAsync("/orders", token))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        Assert.Equal(new FileInfo(gateway.PolicyPath).Length, System.Text.Encoding.UTF8.GetByteCount(PartnerNowBlocked));
        var replacement = gateway.PolicyPath + ".new";
        await File.WriteAllTextAsync(replacement, PartnerNowBlocked);
        File.SetLastWriteTimeUtc(replacement, File.GetLastWriteTimeUtc(gateway.PolicyPath));
        File.Move(replacement, gateway.PolicyPath, overwrite: true);

        Assert.True(await gateway.EventuallyAnswersAsync("/orders", token, HttpStatusCode.Forbidden, TimeSpan.FromSeconds(5)),
            "a replacement with the same length and time was not seen within the content check interval");
    }

    [Fact]
    public async Task Commit_PolicyFileMissing_Answers503AndKeepsThePolicyInForce()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var before = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;
        File.Delete(gateway.PolicyPath);

        using var change = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, change.StatusCode);
        Assert.Equal("application/problem+json", change.Content.Headers.ContentType?.MediaType);
        var detail = await change.Content.ReadAsStringAsync();
        Assert.Contains("policy.json' cannot be read", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("holds an edit", detail, StringComparison.Ordinal);
        Assert.Equal(before, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
        Assert.False(File.Exists(gateway.PolicyPath));
        using var reload = await gateway.AdminAsync(HttpMethod.Post, "/admin/policies/reload");
        await ProblemAssert.IsProblemAsync(reload, HttpStatusCode.ServiceUnavailable, "policy.json' cannot be read; the policy in force is unchanged: ");
    }

    [Fact]
    public async Task Commit_AnotherGatewayWritingTheFile_WaitsForItThenGivesUpWithoutWriting()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        var before = await File.ReadAllBytesAsync(gateway.PolicyPath);

        // Another gateway sharing the file holds the writers' lock (an advisory flock on Unix) for longer than a change
        // waits for it.
        using (new FileStream(gateway.PolicyPath + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
                $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, patch.StatusCode);
            Assert.Contains("another gateway has held", (string?)(await patch.JsonAsync())["detail"], StringComparison.Ordinal);
            Assert.Equal(before, await File.ReadAllBytesAsync(gateway.PolicyPath));
        }

        // Released: the change goes through.
        using var retried = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");
        Assert.Equal(HttpStatusCode.NoContent, retried.StatusCode);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Commit_PolicyFileWithOwnerOnlyPermissions_KeepsThem()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        File.SetUnixFileMode(gateway.PolicyPath, ownerOnly);

        using var change = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""");

        Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        Assert.Equal(ownerOnly, File.GetUnixFileMode(gateway.PolicyPath));
    }

    [Theory]
    [InlineData("{ \"default\": { \"isServiceDefault\": true, ")]
    [InlineData("{ \"default\": { \"isServiceDefault\": true, \"\\udc00\": 1 } }")]
    public async Task Reload_EditNotJsonText_KeepsPolicyAndVersionAndTheWatcherRuns(string edit)
    {
        // Malformed, or well-formed but escaping half a surrogate pair (which System.Text.Json throws on when it reads
        // the name): either is an invalid edit, never an exception that ends the watcher.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        var token = gateway.Token(TestIds.AllowedPartner);
        var versionBefore = await gateway.PolicyVersionAsync();

        await gateway.WritePolicyAsync(edit);

        await reloads.WaitForAsync("invalid", ReloadDeadline);
        using (var response = await gateway.GetAsync("/orders", token))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(versionBefore, await gateway.PolicyVersionAsync());
        await gateway.WritePolicyAsync(PartnerNowBlocked);
        Assert.True(await gateway.EventuallyAnswersAsync("/orders", token, HttpStatusCode.Forbidden, ReloadDeadline));
    }

    [Fact]
    public async Task Reload_ValidEditAfterInvalidOne_IsApplied()
    {
        // A rejected file does not stop the watcher: fixing the file applies it.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        var token = gateway.Token(TestIds.AllowedPartner);
        var versionBefore = await gateway.PolicyVersionAsync();

        await gateway.WritePolicyAsync(InvalidPolicy);
        await reloads.WaitForAsync("invalid", ReloadDeadline);
        await gateway.WritePolicyAsync(PartnerNowBlocked);

        var denied = await gateway.EventuallyAnswersAsync("/orders", token, HttpStatusCode.Forbidden, ReloadDeadline);
        Assert.True(denied);
        Assert.True(await gateway.PolicyVersionAsync() > versionBefore);
    }

    [Fact]
    public async Task Reload_PolicyFileDeleted_KeepsPolicyInForce()
    {
        // A missing file (mid rename, or removed by mistake) is no reason to drop the policy in force.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());
        using var reloads = new PolicyReloads(gateway.Service<IMeterFactory>());
        var allowedToken = gateway.Token(TestIds.AllowedPartner);
        var blockedToken = gateway.Token(TestIds.BlockedPartner);
        var versionBefore = await gateway.PolicyVersionAsync();

        File.Delete(gateway.PolicyPath);

        // Seen missing first, so that what follows is the gateway's answer to a missing file.
        Assert.True(await Eventually.TrueAsync(async () => await PolicyReadinessAsync(gateway) == (HttpStatusCode.OK, "Degraded"), ReloadDeadline),
            "the missing file was not reported");
        await AssertOldPolicyDecidesAsync(gateway, allowedToken, blockedToken, TimeSpan.FromSeconds(1));
        Assert.Equal(versionBefore, await gateway.PolicyVersionAsync());
        // A failed reload, for an alert to see, counted once however many checks (every 100 ms here) found it missing.
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        Assert.Equal(["failure"], reloads.Results);

        // And the file coming back is read again.
        await gateway.WritePolicyAsync(PartnerNowBlocked);
        Assert.True(await gateway.EventuallyAnswersAsync("/orders", allowedToken, HttpStatusCode.Forbidden, ReloadDeadline));
    }

    [Fact]
    public async Task Reload_RelativePolicyPath_IsReadFromContentRootAndWatched()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:Path"] = "policy.json");
        var token = gateway.Token(TestIds.AllowedPartner);
        using (var before = await gateway.GetAsync("/orders", token))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await gateway.WritePolicyAsync(PartnerNowBlocked);

        Assert.True(await gateway.EventuallyAnswersAsync("/orders", token, HttpStatusCode.Forbidden, ReloadDeadline));
    }

    [Fact]
    public async Task Start_InvalidPolicy_ThrowsNamingJsonPath()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(InvalidPolicy));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains("$.partners[0].b2bDirectConnectInbound.applications.accessType", messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MalformedPolicy_ThrowsNamingLine()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync("{\n  \"default\": {\n    \"isServiceDefault\": tru\n"));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains("line 3", messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RouteWithoutAppId_ThrowsNamingRoute()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s["ReverseProxy:Routes:open:Metadata:Xtac.AppId"] = null));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains("'open'", messages, StringComparison.Ordinal);
        Assert.Contains("Xtac.AppId", messages, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Xtac.AppId", "not-a-guid")]
    [InlineData("Xtac.GrantControls", "mfa,passwordless")]
    [InlineData("Xtac.GrantOperator", "XOR")]
    [InlineData("Xtac.Public", "true")]
    public async Task Start_RouteWithInvalidMetadata_ThrowsNamingRoute(string key, string value)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s[$"ReverseProxy:Routes:mfa:Metadata:{key}"] = value));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains("'mfa'", messages, StringComparison.Ordinal);
        Assert.Contains(value.Split(',')[^1], messages, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Xtac.GrantControls", "mfa", "compliantDevice")]
    [InlineData("Xtac.GrantOperator", "AND", null)]
    public async Task Start_RouteMetadataWrittenAsArray_ThrowsNamingRouteAndKey(string key, string first, string? second)
    {
        // YARP reads metadata as strings: an array's items are dropped, and the route would load without its controls.
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s =>
            {
                s[$"ReverseProxy:Routes:mfa:Metadata:{key}"] = null;
                s[$"ReverseProxy:Routes:mfa:Metadata:{key}:0"] = first;
                s[$"ReverseProxy:Routes:mfa:Metadata:{key}:1"] = second;
            }));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains("Route 'mfa'", messages, StringComparison.Ordinal);
        Assert.Contains($"'{key}' has no text value", messages, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Xtac.GrantControl", "mfa")]
    [InlineData("xtac.controls", "mfa")]
    public async Task Start_RouteMetadataKeyUnknown_ThrowsNamingKeyAndTheKnownOnes(string key, string value)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s[$"ReverseProxy:Routes:open:Metadata:{key}"] = value));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains($"Route 'open' has metadata '{key}'", messages, StringComparison.Ordinal);
        Assert.Contains("'Xtac.GrantControls'", messages, StringComparison.Ordinal);
    }

    [Theory]
    // As JSON's "Xtac:GrantControls" and the environment's Xtac__GrantControls reach YARP: a section 'Xtac', no value.
    [InlineData("Xtac:GrantControls", "Xtac")]
    [InlineData("Xtac_GrantControls", "Xtac_GrantControls")]
    [InlineData("Xtac:GrantOperator", "Xtac")]
    public async Task Start_RouteMetadataKeyWithAnotherSeparator_ThrowsNamingKey(string written, string seen)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s[$"ReverseProxy:Routes:mfa:Metadata:{written}"] = written.EndsWith("Operator", StringComparison.Ordinal) ? "AND" : "compliantDevice"));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains($"Route 'mfa' has metadata '{seen}'", messages, StringComparison.Ordinal);
        Assert.Contains("'Xtac.GrantControls'", messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RoutePublicNotABoolean_ThrowsNamingValue()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s["ReverseProxy:Routes:public:Metadata:Xtac.Public"] = "yes"));

        Assert.Contains("Route 'public': 'Xtac.Public' is 'yes'", ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_DevelopmentIssuerEnabledInProduction_ThrowsNamingSetting()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s["Xtac:DevelopmentIssuer:Enabled"] = "true",
            environment: "Production"));

        var messages = ProblemAssert.AllMessages(exception);
        Assert.Contains("Xtac:DevelopmentIssuer:Enabled", messages, StringComparison.Ordinal);
        Assert.Contains("Production", messages, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_Production_DoesNotServeDevelopmentIssuer()
    {
        // Unset means Development only: in Production the loopback issuer's keys are not served.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), environment: "Production");

        // The path falls through to the protected catch-all route: a Bearer challenge, no key set, nothing forwarded.
        using var keys = await gateway.Client.GetAsync("/.xtac-dev-issuer/discovery/v2.0/keys");
        ProblemAssert.Unauthorized(keys, tokenSent: false);
        Assert.DoesNotContain("\"kty\"", await keys.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Start_NoPolicyPath_ThrowsNamingSetting()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Policy:Path"] = null));

        Assert.Contains("Xtac:Policy:Path", ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_PolicyFileMissing_Throws()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Standard(),
            s => s["Xtac:Policy:Path"] = Path.Combine(Path.GetTempPath(), $"xtac-missing-{Guid.NewGuid():N}", "policy.json")));

        Assert.Contains("xtac-missing-", ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    public async Task Start_NoResourceTenant_ThrowsNamingSetting(string? resourceTenant)
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:ResourceTenantId"] = resourceTenant));

        Assert.Contains("ResourceTenantId", ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_PartnerIsResourceTenant_ThrowsNamingPath()
    {
        var exception = await Assert.ThrowsAnyAsync<Exception>(() => GatewayHarness.StartAsync(
            TestPolicies.Document(TestPolicies.Partner(TestIds.ResourceTenant, TestPolicies.AllowedAll))));

        Assert.Contains("$.partners[0].tenantId", ProblemAssert.AllMessages(exception), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_InvalidToken_StillAnswers200()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        foreach (var path in new[] { "/healthz", "/readyz" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not.a.token");
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Empty(gateway.Backend.Requests);
    }

    [Fact]
    public async Task Health_NoToken_HealthzAndReadyzAnswer200()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        using var healthz = await gateway.Client.GetAsync("/healthz");
        using var readyz = await gateway.Client.GetAsync("/readyz");

        Assert.Equal(HttpStatusCode.OK, healthz.StatusCode);
        Assert.Equal(HttpStatusCode.OK, readyz.StatusCode);
        using var report = JsonDocument.Parse(await readyz.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", report.RootElement.GetProperty("status").GetString());
        Assert.True(report.RootElement.GetProperty("policyVersion").GetInt64() >= 1);
        Assert.Empty(gateway.Backend.Requests);
    }

    /// <summary>The management listener's <c>/readyz</c>: its status code and the policy check's status.</summary>
    private static async Task<(HttpStatusCode Status, string? PolicyCheck)> PolicyReadinessAsync(GatewayHarness gateway)
    {
        using var response = await gateway.Management.GetAsync("/readyz");
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, report.RootElement.GetProperty("checks").GetProperty("policy").GetProperty("status").GetString());
    }

    /// <summary>For <paramref name="window"/> (many watcher ticks), the allowed partner is still allowed and the blocked one still blocked.</summary>
    private static async Task AssertOldPolicyDecidesAsync(GatewayHarness gateway, string allowedToken, string blockedToken, TimeSpan window)
    {
        var end = DateTime.UtcNow + window;
        do
        {
            using var allowed = await gateway.GetAsync("/orders", allowedToken);
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
            using var blocked = await gateway.GetAsync("/orders", blockedToken);
            Assert.Equal(HttpStatusCode.Forbidden, blocked.StatusCode);
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < end);
    }
}
