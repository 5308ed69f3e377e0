using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using XtacGateway.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Admin;

public sealed class AdminApiTests
{
    /// <summary><see cref="TestIds.BlockedPartner"/>, for attribute arguments.</summary>
    private const string BlockedPartnerText = "cccccccc-0000-4000-8000-000000000003";

    private static readonly Guid ServiceProvider = new("5e5e5e5e-0000-4000-8000-000000000005");

    private static string PolicyWithServiceProvider() => TestPolicies.Document(
        TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll, mfaAccepted: true),
        TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.BlockedAll),
        $$"""{ "tenantId": "{{ServiceProvider}}", "isServiceProvider": true }""");

    private static Task<GatewayHarness> StartAsync(string? directory = null)
        => GatewayHarness.StartAsync(PolicyWithServiceProvider(), s => s["Xtac:Admin:AuditPath"] = "audit.jsonl", directory: directory);

    [Fact]
    public async Task PatchPartner_AllowsBlockedPartner_ChangesDecisionsVersionAndAudit()
    {
        await using var gateway = await StartAsync();
        Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync("/", gateway.Token(TestIds.BlockedPartner))).StatusCode);
        using var before = await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}");
        var admin = Guid.NewGuid().ToString();

        using var patch = await gateway.AdminWithTokenAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            gateway.AdminToken(AdminRoles.SecurityAdministrator, objectId: admin),
            $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""", ifMatch: before.ETag());

        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        Assert.NotEqual(before.ETag(), patch.ETag());
        Assert.True(patch.PolicyVersion() > before.PolicyVersion());
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/", gateway.Token(TestIds.BlockedPartner))).StatusCode);

        // Only the property sent changed: the partner's inboundTrust is as it was.
        var partner = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}")).JsonAsync();
        Assert.Equal("allowed", (string?)partner["b2bDirectConnectInbound"]!["usersAndGroups"]!["accessType"]);
        Assert.True(JsonNode.DeepEquals((await before.JsonAsync())["inboundTrust"], partner["inboundTrust"]));

        var audit = (await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray();
        var entry = Assert.Single(audit)!;
        Assert.Equal("Update a partner cross-tenant access setting", (string?)entry["activityDisplayName"]);
        Assert.Equal("CrossTenantAccessSettings", (string?)entry["category"]);
        Assert.Equal(TestIds.BlockedPartner.ToString(), (string?)entry["targetTenantId"]);
        Assert.Equal(admin, (string?)entry["initiatedBy"]!["objectId"]);
        Assert.Equal(TestIds.ResourceTenant.ToString(), (string?)entry["initiatedBy"]!["tenantId"]);
        Assert.Equal("Security Administrator", (string?)entry["initiatedBy"]!["roles"]![0]);
        var modified = Assert.Single(entry["modifiedProperties"]!.AsArray())!;
        Assert.Equal("b2bDirectConnectInbound", (string?)modified["displayName"]);
        Assert.Equal("blocked", (string?)modified["oldValue"]!["usersAndGroups"]!["accessType"]);
        Assert.Equal("allowed", (string?)modified["newValue"]!["usersAndGroups"]!["accessType"]);
        Assert.True(DateTimeOffset.Parse((string)entry["activityDateTime"]!) > DateTimeOffset.UtcNow.AddMinutes(-1));
    }

    [Theory]
    [InlineData("PATCH", "/partners/" + BlockedPartnerText, """{ "B2bDirectConnectInbound": null, "inboundTrust": { "IsMfaAccepted": true } }""",
        "$.B2bDirectConnectInbound", "$.inboundTrust.IsMfaAccepted")]
    [InlineData("POST", "/partners", """{ "tenantId": "cccccccc-0000-4000-8000-000000000099", "b2bDirectConnectInbound": { "UsersAndGroups": null } }""",
        "$.b2bDirectConnectInbound.UsersAndGroups", null)]
    [InlineData("PATCH", "/default", """{ "InboundTrust": { "isMfaAccepted": true, "ISCOMPLIANTDEVICEACCEPTED": true } }""",
        "$.InboundTrust", "$.InboundTrust.ISCOMPLIANTDEVICEACCEPTED")]
    public async Task AdminCall_PropertyNamedInAnotherCase_400NamingEachAndNothingChanged(string method, string path, string body, string first, string? second)
    {
        // Names are case-sensitive: stored as an unknown property, such a change would be answered 204 and enforce nothing.
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;

        using var response = await gateway.AdminAsync(new HttpMethod(method), $"{AdminClient.Base}{path}", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.JsonAsync())["errors"]!.AsObject();
        Assert.Equal(second is null ? [first] : [first, second], errors.Select(e => e.Key));
        Assert.Contains("names are case-sensitive", errors[first]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
    }

    [Theory]
    [InlineData("/partners/" + BlockedPartnerText, """{ "tenantRestrictions": { "UsersAndGroups": { "AccessType": "blocked" } } }""")]
    [InlineData("/default", """{ "TenantId": "not one of the default's properties in any case" }""")]
    public async Task AdminCall_OtherCaseOutsideTheModelsOwnProperties_Applied(string path, string body)
    {
        // What an unknown property holds is its own affair, and a name only another type has is simply unknown.
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;

        using var response = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}{path}", body);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.NotEqual(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
        // Stored as sent, names in their own case, and audited.
        var stored = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}{path}")).JsonAsync();
        var (name, value) = JsonNode.Parse(body)!.AsObject().Single();
        Assert.True(JsonNode.DeepEquals(value, stored[name]), $"{name}: {stored[name]?.ToJsonString()}");
        var entry = Assert.Single((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray())!;
        Assert.Contains(name, entry["modifiedProperties"]!.AsArray().Select(p => (string?)p!["displayName"]));
    }

    [Fact]
    public async Task PatchDefault_SettingsItHasSetToNull_400NamingEachAndNothingChanged()
    {
        // A partner's null inherits from the default; the default's own would leave the stored policy saying nothing.
        // (tenantRestrictions is not a setting the gateway reads.)
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "b2bDirectConnectInbound": null, "inboundTrust": null, "tenantRestrictions": null }""");

        Assert.Equal(HttpStatusCode.BadRequest, patch.StatusCode);
        var errors = (await patch.JsonAsync())["errors"]!.AsObject();
        Assert.Equal(["$.b2bDirectConnectInbound", "$.inboundTrust"], errors.Select(e => e.Key));
        Assert.Contains("resetToSystemDefault", errors["$.inboundTrust"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
    }

    [Fact]
    public async Task PatchPartner_NotAPartnerWithAnotherTenantIdInTheBody_404()
    {
        // As Graph answers a PATCH of a partner that does not exist, whatever the body holds; nothing is created.
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.UnlistedTenant}",
            $$"""{ "tenantId": "{{TestIds.BlockedPartner}}", "isServiceProvider": true }""");

        Assert.Equal(HttpStatusCode.NotFound, patch.StatusCode);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("\"" + "cccccccc-0000-4000-8000-000000000099" + "\"")]
    public async Task PatchPartner_TenantIdChangedAndBadSetting_400NamingEach(string tenantId)
    {
        await using var gateway = await StartAsync();
        using var before = await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}");

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            $$"""{ "tenantId": {{tenantId}}, "inboundTrust": { "isMfaAccepted": "yes" }, "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");

        Assert.Equal(HttpStatusCode.BadRequest, patch.StatusCode);
        Assert.Equal(["$.tenantId", "$.inboundTrust.isMfaAccepted"], (await patch.JsonAsync())["errors"]!.AsObject().Select(e => e.Key));
        using var after = await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}");
        Assert.Equal(before.ETag(), after.ETag());
    }

    [Fact]
    public async Task PatchPartner_TenantIdSpelledOtherwise_AcceptedAndTheStoredSpellingKept()
    {
        await using var gateway = await StartAsync();
        var spelled = $"{{{TestIds.BlockedPartner.ToString().ToUpperInvariant()}}}";

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            $$"""{ "tenantId": "{{spelled}}", "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");

        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        var partner = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}")).JsonAsync();
        Assert.Equal(TestIds.BlockedPartner.ToString(), (string?)partner["tenantId"]);
        Assert.Equal("allowed", (string?)partner["b2bDirectConnectInbound"]!["usersAndGroups"]!["accessType"]);
        var entry = Assert.Single((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray())!;
        Assert.Equal(["b2bDirectConnectInbound"], entry["modifiedProperties"]!.AsArray().Select(p => (string?)p!["displayName"]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PatchPartner_ChangeLogged_ActorKeyedHashUnlessRawIdsConfigured(bool logUserObjectIds)
    {
        const string key = "a-fleet-wide-key-of-32-characters";
        await using var gateway = await GatewayHarness.StartAsync(PolicyWithServiceProvider(), s =>
        {
            s["Xtac:Admin:AuditPath"] = "audit.jsonl";
            s["Xtac:Telemetry:UserIdHashKey"] = key;
            s["Xtac:Telemetry:LogUserObjectIds"] = logUserObjectIds ? "true" : "false";
        }, configureBuilder: b => FakeLogs.Enable(b));
        var admin = Guid.NewGuid().ToString();

        using var patch = await gateway.AdminWithTokenAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            gateway.AdminToken(objectId: admin), $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");

        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        var record = Assert.Single(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 3001);
        // The same keyed hash as the decision logs, so one user reads alike in both.
        var keyedHash = "h:" + Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(key), System.Text.Encoding.UTF8.GetBytes(admin)).AsSpan(0, 8));
        Assert.Contains(logUserObjectIds ? admin : keyedHash, record.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logUserObjectIds ? keyedHash : admin, record.Message, StringComparison.Ordinal);
        Assert.Contains($"policy version {patch.PolicyVersion()}", record.Message, StringComparison.Ordinal);

        // The audit log is the record of who changed what: it keeps the actor as it is.
        var entry = Assert.Single((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray())!;
        Assert.Equal(admin, (string?)entry["initiatedBy"]!["objectId"]);
    }

    [Theory]
    [InlineData("""{ "isMfaAccepted": true }""", """{ "isMfaAccepted": true, "isCompliantDeviceAccepted": null, "isHybridAzureADJoinedDeviceAccepted": null }""")]
    [InlineData("""{ "isMfaAccepted": true, "isCompliantDeviceAccepted": null, "isHybridAzureADJoinedDeviceAccepted": null }""", """{ "isMfaAccepted": true }""")]
    [InlineData("""{ "isMfaAccepted": true, "isCompliantDeviceAccepted": false }""", """{ "isCompliantDeviceAccepted": false, "isMfaAccepted": true }""")]
    public async Task PatchPartner_SameSettingsWrittenDifferently_Returns204WithoutNewVersionOrAudit(string first, string again)
    {
        await using var gateway = await StartAsync();
        var path = $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}";
        using var changed = await gateway.AdminAsync(HttpMethod.Patch, path, $$"""{ "inboundTrust": {{first}} }""");
        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);

        // Graph's SDKs leave unset properties out, others send them as null: either way the partner's settings are the same.
        using var repeated = await gateway.AdminAsync(HttpMethod.Patch, path, $$"""{ "inboundTrust": {{again}} }""");

        Assert.Equal(HttpStatusCode.NoContent, repeated.StatusCode);
        Assert.Equal(changed.ETag(), repeated.ETag());
        Assert.Equal(changed.PolicyVersion(), repeated.PolicyVersion());
        Assert.Single((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray());
    }

    private static Guid NumberedPartner(int i) => new($"bbbbbbbb-1111-4000-8000-{i:D12}");

    private static Task<GatewayHarness> StartWithPartnersAsync(int count)
        => GatewayHarness.StartAsync(TestPolicies.Document([.. Enumerable.Range(0, count).Select(i => $$"""{ "tenantId": "{{NumberedPartner(i)}}" }""")]));

    /// <summary>Every page from <paramref name="first"/> on: the sizes of the pages and the partners in order.</summary>
    private static async Task<(List<int> Sizes, List<string> Tenants)> ListAllAsync(GatewayHarness gateway, string first)
    {
        var pages = await gateway.PagesAsync(first);
        return ([.. pages.Select(p => p.Count)], [.. pages.SelectMany(p => p.Select(partner => (string)partner!["tenantId"]!))]);
    }

    [Fact]
    public async Task ListPartners_MoreThanTop_NextLinksGiveEveryPartnerOnceInOrder()
    {
        await using var gateway = await StartWithPartnersAsync(25);

        var (sizes, tenants) = await ListAllAsync(gateway, $"{AdminClient.Base}/partners?$top=10");

        Assert.Equal([10, 10, 5], sizes);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => NumberedPartner(i).ToString()), tenants);
    }

    [Fact]
    public async Task ListPartners_NoTop_PagesOfAThousand()
    {
        await using var gateway = await StartWithPartnersAsync(AdminApi.PartnerPageSize + 1);

        var (sizes, tenants) = await ListAllAsync(gateway, $"{AdminClient.Base}/partners");

        Assert.Equal([AdminApi.PartnerPageSize, 1], sizes);
        Assert.Equal(AdminApi.PartnerPageSize + 1, tenants.Distinct().Count());
    }

    [Fact]
    public async Task ListPartners_PolicyChangedBetweenPages_409AndTheFirstPageWorksAgain()
    {
        await using var gateway = await StartWithPartnersAsync(3);
        using var first = await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners?$top=2");
        var next = (string)(await first.JsonAsync())["@odata.nextLink"]!;
        using var delete = await gateway.AdminAsync(HttpMethod.Delete, $"{AdminClient.Base}/partners/{NumberedPartner(0)}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);

        using var stale = await gateway.AdminAsync(HttpMethod.Get, next);

        // Page two of the new version would have skipped partner 2 (now at index 1).
        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.Conflict, "List again from the first page");
        Assert.Equal(delete.ETag(), stale.ETag());
        var (sizes, tenants) = await ListAllAsync(gateway, $"{AdminClient.Base}/partners?$top=2");
        Assert.Equal([2], sizes);
        Assert.Equal([NumberedPartner(1).ToString(), NumberedPartner(2).ToString()], tenants);
    }

    [Theory]
    [InlineData("$top=0", "$top")]
    [InlineData("$top=1001", "$top")]
    [InlineData("$top=ten", "$top")]
    [InlineData("$top=-1", "$top")]
    [InlineData("$skiptoken=abc", "$skiptoken")]
    [InlineData("$skiptoken=not%20base64", "$skiptoken")]
    [InlineData("$skiptoken=OnNvbWUtZXRhZw", "$skiptoken")]
    public async Task ListPartners_BadPagingParameter_400NamingIt(string query, string parameter)
    {
        await using var gateway = await StartWithPartnersAsync(3);

        using var response = await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners?{query}");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, $"'{parameter}'");
    }

    [Fact]
    public async Task PatchDefault_UnknownPropertyAsDeepAsAPolicyMayGo_AppliedAuditedAndListed()
    {
        await using var gateway = await StartAsync();
        // The document is 64 levels deep with it (the default, then 62 arrays): the deepest a policy may be. An audit
        // entry and the audit list hold it a few levels further down.
        var deep = new string('[', 62) + new string(']', 62);

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default", $$"""{ "x-note": {{deep}}, "inboundTrust": { "isMfaAccepted": true } }""");

        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        using var audit = await gateway.AdminAsync(HttpMethod.Get, "/admin/audit");
        Assert.Equal(HttpStatusCode.OK, audit.StatusCode);
        var page = JsonNode.Parse(await audit.Content.ReadAsStringAsync(), documentOptions: new() { MaxDepth = 128 })!;
        var entry = Assert.Single(page["value"]!.AsArray())!;
        Assert.Equal(["inboundTrust", "isServiceDefault", "x-note"], entry["modifiedProperties"]!.AsArray().Select(p => (string?)p!["displayName"]).Order());
    }

    [Theory]
    [InlineData("PATCH", "/default", 63)]
    [InlineData("PATCH", "/partners/" + BlockedPartnerText, 61)]
    [InlineData("POST", "/partners", 61)]
    public async Task AdminCall_UnknownPropertyDeeperThanAPolicyMayGo_Returns400AtItsByteAndChangesNothing(string method, string path, int bodyDepth)
    {
        // The default is one level into the document, a partner two (three in Graph's list shape, which the limit allows
        // for): the body may nest that much less than a policy.
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;
        var deep = new string('[', bodyDepth) + new string(']', bodyDepth);

        var newPartner = method == "POST" ? """, "tenantId": "eeeeeeee-0000-4000-8000-000000000004" """ : "";

        using var response = await gateway.AdminAsync(new HttpMethod(method), $"{AdminClient.Base}{path}", $$"""{ "x-note": {{deep}}{{newPartner}} }""");

        // Located in the body as sent, not in the document it would have made.
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "nothing changed");
        var error = (string?)(await response.JsonAsync())["errors"]!["$"]![0];
        Assert.StartsWith($"Malformed JSON at line 1, byte {12 + bodyDepth}:", error, StringComparison.Ordinal);
        Assert.Contains($"depth of {bodyDepth}", error, StringComparison.Ordinal);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
        Assert.Empty((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray());
    }

    [Fact]
    public async Task PatchDefault_InvalidBody_Returns400WithEveryJsonPathAndChangesNothing()
    {
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;
        var policyFile = await File.ReadAllTextAsync(gateway.PolicyPath);

        using var response = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default", """
            {
              "inboundTrust": { "isMfaAccepted": "yes" },
              "b2bDirectConnectInbound": {
                "usersAndGroups": { "accessType": "sometimes", "targets": [ { "target": "AllUsers", "targetType": "application" } ] },
                "applications": { "accessType": "blocked", "targets": [] }
              }
            }
            """);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.JsonAsync())["errors"]!.AsObject().Select(e => e.Key).ToArray();
        Assert.Contains("$.inboundTrust.isMfaAccepted", errors);
        Assert.Contains("$.b2bDirectConnectInbound.usersAndGroups.accessType", errors);
        Assert.Contains("$.b2bDirectConnectInbound.usersAndGroups.targets[0].targetType", errors);
        Assert.Contains("$.b2bDirectConnectInbound.applications.targets", errors);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
        Assert.Equal(policyFile, await File.ReadAllTextAsync(gateway.PolicyPath));
        Assert.Empty((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray());
    }

    [Theory]
    [InlineData("""{ "isServiceDefault": false }""", new[] { "$.isServiceDefault" })]
    [InlineData("""{ "isServiceDefault": "yes", "inboundTrust": { "isMfaAccepted": "no" } }""", new[] { "$.isServiceDefault", "$.inboundTrust.isMfaAccepted" })]
    public async Task PatchDefault_ServiceDefaultMarkerSetByHand_400NamingItAndChangesNothing(string body, string[] paths)
    {
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;

        using var response = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.JsonAsync())["errors"]!.AsObject();
        Assert.Equal(paths.Order(), errors.Select(e => e.Key).Order());
        Assert.Contains("resetToSystemDefault", errors["$.isServiceDefault"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
        Assert.Empty((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray());
    }

    [Fact]
    public async Task PatchDefault_CustomisedDefaultMarkedServiceDefault_400AndStaysCustomised()
    {
        await using var gateway = await StartAsync();
        using (var customised = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default", """{ "inboundTrust": { "isMfaAccepted": true } }"""))
        {
            Assert.Equal(HttpStatusCode.NoContent, customised.StatusCode);
        }

        using var response = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "isServiceDefault": true, "inboundTrust": { "isMfaAccepted": false } }""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotNull((await response.JsonAsync())["errors"]!["$.isServiceDefault"]);
        var defaults = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default")).JsonAsync();
        Assert.False((bool)defaults["isServiceDefault"]!);
        Assert.True((bool)defaults["inboundTrust"]!["isMfaAccepted"]!);
    }

    [Fact]
    public async Task PatchDefault_EditedCopyOfGetSentBack_AppliedAndNoLongerServiceDefault()
    {
        await using var gateway = await StartAsync();
        var copy = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default")).JsonAsync();
        Assert.True((bool)copy["isServiceDefault"]!);
        copy["inboundTrust"]!["isMfaAccepted"] = true;

        using var response = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default", copy.ToJsonString());

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var defaults = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default")).JsonAsync();
        Assert.False((bool)defaults["isServiceDefault"]!);
        Assert.True((bool)defaults["inboundTrust"]!["isMfaAccepted"]!);
    }

    [Theory]
    [InlineData("\"tenantId\": \"not-a-guid\",")]
    [InlineData("")]
    public async Task AddPartner_BadTenantIdAndBadSettings_Returns400WithEveryJsonPath(string tenantId)
    {
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;

        using var response = await gateway.AdminAsync(HttpMethod.Post, $"{AdminClient.Base}/partners",
            $$"""{ {{tenantId}} "inboundTrust": { "isMfaAccepted": "yes" } }""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.JsonAsync())["errors"]!.AsObject().Select(e => e.Key).ToArray();
        Assert.Contains("$.tenantId", errors);
        Assert.Contains("$.inboundTrust.isMfaAccepted", errors);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
    }

    [Theory]
    [InlineData("a change this instance's copy already has")]
    [InlineData("a partner this instance's copy lacks")]
    public async Task Patch_SourceChangedSinceThisInstanceLastLooked_AppliedToTheNewestPolicy(string edit)
    {
        // The watcher looks once in ten minutes: a hand edit of the file stands in for another instance's change that
        // has not reached this one yet.
        var trusting = TestPolicies.Standard(allowedPartnerTrustsMfa: true);
        await using var gateway = await GatewayHarness.StartAsync(trusting, s =>
        {
            s["Xtac:Admin:AuditPath"] = "audit.jsonl";
            s["Xtac:Policy:FileCheckInterval"] = "00:10:00";
            s["Xtac:Policy:MaxAge"] = "00:30:00";
        });
        // The other change turned MFA trust off for the allowed partner and added a partner: both must survive.
        var elsewhere = TestPolicies.Document(
            TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll, mfaAccepted: false),
            TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.BlockedAll),
            TestPolicies.Partner(TestIds.UnlistedTenant, TestPolicies.BlockedAll));
        await gateway.WritePolicyAsync(elsewhere);

        var target = edit.Contains("lacks", StringComparison.Ordinal) ? TestIds.UnlistedTenant : TestIds.AllowedPartner;
        using var response = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{target}",
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": null, "isHybridAzureADJoinedDeviceAccepted": null } }""");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var saved = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(gateway.PolicyPath));
        var partners = saved.RootElement.GetProperty("partners").EnumerateArray().ToDictionary(p => p.GetProperty("tenantId").GetString()!);
        Assert.True(partners[target.ToString()].GetProperty("inboundTrust").GetProperty("isMfaAccepted").GetBoolean());
        // Applied to the newest policy, not to this instance's copy written back over it.
        Assert.Equal(3, partners.Count);
        if (target != TestIds.AllowedPartner)
        {
            Assert.False(partners[TestIds.AllowedPartner.ToString()].GetProperty("inboundTrust").GetProperty("isMfaAccepted").GetBoolean());
        }
    }

    [Theory]
    [InlineData("POST", "/partners", "{}", "$.tenantId")]
    [InlineData("POST", "/partners", """{ "tenantId": null }""", "$.tenantId")]
    [InlineData("PATCH", "/default", """{ "inboundTrust": { "isMfaAccepted": true, "isMfaAccepted": false } }""", "$")]
    [InlineData("PATCH", "/default", """{ "inboundTrust": { "isMfaAccepted": tru }""", "$")]
    public async Task Change_UnusableBody_Returns400NamingTheProblem(string method, string path, string body, string errorPath)
    {
        // An empty partner, a property given twice, malformed JSON: each a 400 problem with its JSON path, never a 409 or 500.
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;

        using var response = await gateway.AdminAsync(new HttpMethod(method), $"{AdminClient.Base}{path}", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.JsonAsync())["errors"]!.AsObject();
        Assert.Contains(errorPath, errors.Select(e => e.Key));
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
    }

    public static TheoryData<string, string, string, bool> BodiesNotText()
    {
        // Where the bad text goes: a string value, a property name, a string a rule reads, the evaluation contract.
        (string Method, string Path, string Template)[] calls =
        [
            ("PATCH", "/policies/crossTenantAccessPolicy/default", "{ \"tenantRestrictions\": \"\uFFFD\" }"),
            ("PATCH", "/policies/crossTenantAccessPolicy/default", "{ \"\uFFFD\": 1 }"),
            ("POST", "/policies/crossTenantAccessPolicy/partners", "{ \"tenantId\": \"\uFFFD\" }"),
            ("POST", "/evaluate", "{ \"application\": { \"appId\": \"\uFFFD\" }, \"claims\": {} }"),
        ];
        var data = new TheoryData<string, string, string, bool>();
        foreach (var (method, path, template) in calls)
        {
            data.Add(method, path, template, true);
            data.Add(method, path, template, false);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BodiesNotText))]
    public async Task AdminCall_BodyNotUnicodeText_Returns400ProblemAndChangesNothing(string method, string path, string template, bool notUtf8)
    {
        // JSON must be UTF-8 (RFC 8259), and an escape of half a surrogate pair spells no text; the parser looks at a
        // string only when it is read, so either must still be a 400, not a 500 at the first use.
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;
        var marker = System.Text.Encoding.UTF8.GetBytes("\uFFFD");
        var text = System.Text.Encoding.UTF8.GetBytes(template);
        var at = text.AsSpan().IndexOf(marker);
        byte[] bad = notUtf8 ? [0xC3, 0x28] : "\\ud800"u8.ToArray();
        byte[] body = [.. text[..at], .. bad, .. text[(at + marker.Length)..]];
        using var request = new HttpRequestMessage(new HttpMethod(method), $"/admin{path}") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Authorization = new("Bearer", gateway.AdminToken());

        using var response = await gateway.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(notUtf8 ? "JSON text must be UTF-8" : "escapes half of a UTF-16 surrogate pair", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
    }

    [Fact]
    public async Task PatchDefault_BodyWithByteOrderMark_Applied()
    {
        // As Windows PowerShell 5.1 writes a file with '-Encoding UTF8', sent with Invoke-RestMethod -InFile.
        await using var gateway = await StartAsync();
        byte[] body = [.. System.Text.Encoding.UTF8.Preamble, .. System.Text.Encoding.UTF8.GetBytes(
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""")];
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"{AdminClient.Base}/default") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Authorization = new("Bearer", gateway.AdminToken());

        using var response = await gateway.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var current = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default")).JsonAsync();
        Assert.True((bool)current["inboundTrust"]!["isMfaAccepted"]!);
    }

    [Theory]
    [InlineData("PATCH", "/policies/crossTenantAccessPolicy/default")]
    [InlineData("POST", "/evaluate")]
    public async Task AdminCall_BodyOverFourMiB_Returns413Problem(string method, string path)
    {
        await using var gateway = await StartAsync();
        var etag = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;
        // One byte over: the JSON around the padding is 17 bytes.
        var body = $$"""{ "padding": "{{new string('x', (4 * 1024 * 1024) + 1 - 17)}}" }""";
        Assert.Equal((4 * 1024 * 1024) + 1, System.Text.Encoding.UTF8.GetByteCount(body));
        using var request = new HttpRequestMessage(new HttpMethod(method), $"/admin{path}")
        {
            Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", gateway.AdminToken());
        // As a well-behaved client sends a large body: the refusal arrives before the body is sent.
        request.Headers.ExpectContinue = true;

        using var response = await gateway.Management.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(etag, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
    }

    [Fact]
    public async Task Patch_StaleIfMatch_Returns412AndChangesNothing()
    {
        await using var gateway = await StartAsync();
        using var first = await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default");
        using var change = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""", ifMatch: first.ETag());
        Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);

        // A second admin still holding the first ETag.
        using var stale = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "inboundTrust": { "isMfaAccepted": false, "isCompliantDeviceAccepted": true, "isHybridAzureADJoinedDeviceAccepted": false } }""", ifMatch: first.ETag());

        Assert.Equal(HttpStatusCode.PreconditionFailed, stale.StatusCode);
        Assert.Equal(change.ETag(), stale.ETag());
        var current = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default")).JsonAsync();
        Assert.True((bool)current["inboundTrust"]!["isMfaAccepted"]!);
        Assert.Single((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray());
    }

    [Fact]
    public async Task ReadAudit_TopAsGraphTakesIt_NewestThatMany()
    {
        await using var gateway = await StartAsync();
        var versions = new List<long>();
        foreach (var accepted in new[] { "true", "false" })
        {
            using var change = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
                $$"""{ "inboundTrust": { "isMfaAccepted": {{accepted}}, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""");
            Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
            versions.Add(change.PolicyVersion());
        }

        async Task<JsonArray> ReadAsync(string query)
        {
            using var read = await gateway.AdminAsync(HttpMethod.Get, $"/admin/audit{query}");
            return (await read.JsonAsync())["value"]!.AsArray();
        }

        // The second change's entry, by the version that change answered with.
        Assert.Equal(versions[1], (long)Assert.Single(await ReadAsync("?$top=1"))!["policyVersion"]!);
        Assert.Equal(versions[1], (long)Assert.Single(await ReadAsync("?top=1"))!["policyVersion"]!);
        Assert.Equal(versions.AsEnumerable().Reverse(), (await ReadAsync(string.Empty)).Select(e => (long)e!["policyVersion"]!));

        foreach (var bad in new[] { "0", "1001", "-1", "ten" })
        {
            using var refused = await gateway.AdminAsync(HttpMethod.Get, $"/admin/audit?$top={bad}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains($"'$top' must be a whole number from 1 to 1000, not '{bad}'", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ReadAudit_MoreEntriesThanTop_NextLinksGiveEveryEntryOnceNewestFirst()
    {
        await using var gateway = await StartAsync();
        var versions = await gateway.FiveAuditedChangesAsync();

        var pages = await gateway.AuditPagesAsync("/admin/audit?$top=2");

        Assert.Equal([[versions[4], versions[3]], [versions[2], versions[1]], [versions[0]]], pages);
        // Exactly $top entries left: no link to an empty page.
        Assert.Equal([[versions[4], versions[3], versions[2], versions[1], versions[0]]], await gateway.AuditPagesAsync("/admin/audit?$top=5"));
    }

    [Fact]
    public async Task ReadAudit_AuditFileReplacedBetweenPages_409AndTheFirstPageWorksAgain()
    {
        await using var gateway = await StartAsync();
        var versions = await gateway.FiveAuditedChangesAsync();
        using var first = await gateway.AdminAsync(HttpMethod.Get, "/admin/audit?$top=2");
        var next = (string)(await first.JsonAsync())["@odata.nextLink"]!;
        // Moved aside (as log shipping does) and started again by the next changes, whose entries may well begin at the
        // same offsets as the moved ones.
        File.Move(Path.Combine(gateway.Directory, "audit.jsonl"), Path.Combine(gateway.Directory, "audit.old.jsonl"));
        var later = await gateway.FiveAuditedChangesAsync();

        using var stale = await gateway.AdminAsync(HttpMethod.Get, next);

        await ProblemAssert.IsProblemAsync(stale, HttpStatusCode.Conflict, "List again from the first page");
        Assert.Equal([[later[4], later[3]], [later[2], later[1]], [later[0]]], await gateway.AuditPagesAsync("/admin/audit?$top=2"));
    }

    [Theory]
    [InlineData("$skiptoken=abc")]
    [InlineData("$skiptoken=not%20base64")]
    [InlineData("$skiptoken=MC0x")] // "0-1": a Redis stream ID, not a position in the file
    [InlineData("$skiptoken=MA")] // "0"
    [InlineData("$skiptoken=LTE6eA")] // "-1:x"
    public async Task ReadAudit_SkipTokenNotGiven_400NamingIt(string query)
    {
        await using var gateway = await StartAsync();
        await gateway.FiveAuditedChangesAsync();

        using var response = await gateway.AdminAsync(HttpMethod.Get, $"/admin/audit?{query}");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "'$skiptoken'");
    }

    [Fact]
    public async Task Patch_WeakIfMatchOfThePolicyInForce_Returns412AndChangesNothing()
    {
        // RFC 9110: If-Match compares strongly, so W/"<current etag>" names no representation the gateway holds.
        await using var gateway = await StartAsync();
        using var read = await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default");

        using var weak = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
            """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""", ifMatch: $"W/{read.ETag()}");

        Assert.Equal(HttpStatusCode.PreconditionFailed, weak.StatusCode);
        Assert.Equal(read.ETag(), weak.ETag());
        Assert.Empty((await (await gateway.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray());
    }

    [Fact]
    public async Task ReadAudit_AppendCutShortByACrash_OnlyTheTornEntryLost()
    {
        await using var gateway = await StartAsync();
        async Task ChangeAsync(string mfa)
        {
            using var change = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
                $$"""{ "inboundTrust": { "isMfaAccepted": {{mfa}}, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""");
            Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        }

        await ChangeAsync("true");
        await ChangeAsync("false");
        // What a crash halfway through the second append leaves: half an entry and no line end.
        var path = Path.Combine(gateway.Directory, "audit.jsonl");
        var lines = await File.ReadAllLinesAsync(path);
        await File.WriteAllTextAsync(path, $"{lines[0]}\n{lines[1][..(lines[1].Length / 2)]}");

        await ChangeAsync("true");
        using var audit = await gateway.AdminAsync(HttpMethod.Get, "/admin/audit");

        Assert.Equal(HttpStatusCode.OK, audit.StatusCode);
        var entries = (await audit.JsonAsync())["value"]!.AsArray();
        Assert.Equal(2, entries.Count);
        Assert.Equal(JsonNode.Parse(lines[0])!["id"]!.GetValue<string>(), entries[1]!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task Patch_AuditStoreFailsAfterTheCommit_Returns204AndTheChangeIsInForce()
    {
        // The change is in force once the source took it; an audit store failing after that is logged, not answered.
        await using var gateway = await GatewayHarness.StartAsync(PolicyWithServiceProvider(), s => s["Xtac:Admin:AuditPath"] = "blocked/audit.jsonl",
            configureBuilder: b => FakeLogs.Enable(b));
        // The real file audit log, whose directory is a file: every append fails as on a read-only or missing volume.
        await File.WriteAllTextAsync(Path.Combine(gateway.Directory, "blocked"), string.Empty);

        using var patch = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            $$"""{ "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""");

        Assert.Equal(HttpStatusCode.NoContent, patch.StatusCode);
        using (var admitted = await gateway.GetAsync("/", gateway.Token(TestIds.BlockedPartner)))
        {
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        }

        var critical = Assert.Single(gateway.App.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 3002);
        Assert.Equal(LogLevel.Critical, critical.Level);
        Assert.Contains($"policy version {patch.PolicyVersion()}", critical.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PatchPartner_InvalidBodyOnAGraphListEnvelope_ErrorPathsRelativeToTheBody()
    {
        // A policy saved as Graph's list response: "partners": { "value": [ ... ] }.
        var document = JsonNode.Parse(TestPolicies.Standard())!.AsObject();
        document["partners"] = new JsonObject { ["value"] = document["partners"]!.DeepClone() };
        await using var gateway = await GatewayHarness.StartAsync(document.ToJsonString());

        using var response = await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.BlockedPartner}",
            """{ "inboundTrust": { "isMfaAccepted": "yes" } }""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.JsonAsync())["errors"]!.AsObject().Select(e => e.Key).ToArray();
        Assert.Equal(["$.inboundTrust.isMfaAccepted"], errors);
    }

    [Fact]
    public async Task DeletePartner_ServiceProvider_IsRefusedWithAClearProblem()
    {
        await using var gateway = await StartAsync();

        using var response = await gateway.AdminAsync(HttpMethod.Delete, $"{AdminClient.Base}/partners/{ServiceProvider}");

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("isServiceProvider", (string?)(await response.JsonAsync())["detail"]);
        Assert.Equal(HttpStatusCode.OK, (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners/{ServiceProvider}")).StatusCode);
    }

    [Fact]
    public async Task PartnerLifecycle_AddGetDeleteAndReset_GraphStatusCodesAndAuditSurvivesRestart()
    {
        using var temp = new TempDirectory("xtac-admin-");
        var directory = temp.Path;
        await using (var gateway = await StartAsync(directory))
        {
            var body = $$"""{ "tenantId": "{{TestIds.UnlistedTenant}}", "b2bDirectConnectInbound": {{TestPolicies.AllowedAll}} }""";
            using var created = await gateway.AdminAsync(HttpMethod.Post, $"{AdminClient.Base}/partners", body);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal($"{AdminClient.Base}/partners/{TestIds.UnlistedTenant}", created.Headers.Location?.OriginalString);
            Assert.Equal(TestIds.UnlistedTenant.ToString(), (string?)(await created.JsonAsync())["tenantId"]);
            Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("/", gateway.Token(TestIds.UnlistedTenant))).StatusCode);

            Assert.Equal(HttpStatusCode.Conflict, (await gateway.AdminAsync(HttpMethod.Post, $"{AdminClient.Base}/partners", body)).StatusCode);

            Assert.Equal(HttpStatusCode.NoContent, (await gateway.AdminAsync(HttpMethod.Delete, $"{AdminClient.Base}/partners/{TestIds.UnlistedTenant}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/partners/{TestIds.UnlistedTenant}")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await gateway.GetAsync("/", gateway.Token(TestIds.UnlistedTenant))).StatusCode);

            Assert.Equal(HttpStatusCode.NoContent, (await gateway.AdminAsync(HttpMethod.Patch, $"{AdminClient.Base}/default",
                """{ "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": true, "isHybridAzureADJoinedDeviceAccepted": true } }""")).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await gateway.AdminAsync(HttpMethod.Post, $"{AdminClient.Base}/default/resetToSystemDefault")).StatusCode);
            var defaults = await (await gateway.AdminAsync(HttpMethod.Get, $"{AdminClient.Base}/default")).JsonAsync();
            Assert.True((bool)defaults["isServiceDefault"]!);
            Assert.False((bool)defaults["inboundTrust"]!["isMfaAccepted"]!);
            Assert.Equal("allowed", (string?)defaults["b2bCollaborationInbound"]!["usersAndGroups"]!["accessType"]);
            Assert.Equal("blocked", (string?)defaults["b2bDirectConnectOutbound"]!["applications"]!["accessType"]);
        }

        await using (var restarted = await GatewayHarness.StartAsync(await File.ReadAllTextAsync(Path.Combine(directory, "policy.json")),
            s => s["Xtac:Admin:AuditPath"] = "audit.jsonl", directory: directory))
        {
            var audit = (await (await restarted.AdminAsync(HttpMethod.Get, "/admin/audit")).JsonAsync())["value"]!.AsArray();
            Assert.Equal(
                ["Reset the cross-tenant access default setting", "Update the company default cross-tenant access setting",
                 "Delete partner specific cross-tenant access setting", "Add a partner to cross-tenant access setting"],
                audit.Select(e => (string)e!["activityDisplayName"]!).ToArray());
            Assert.Equal(TestIds.UnlistedTenant.ToString(), (string?)audit[3]!["targetTenantId"]);
            Assert.Null(audit[0]!["targetTenantId"]);
        }
    }

    [Fact]
    public async Task Evaluate_WhatIf_UsesThePolicyInForceAndTheEvaluateShapes()
    {
        await using var gateway = await StartAsync();

        using var response = await gateway.AdminWithTokenAsync(HttpMethod.Post, "/admin/evaluate", gateway.AdminToken(AdminRoles.GlobalReader), $$"""
            [ { "application": { "appId": "{{TestIds.OpenApp}}" }, "claims": { "tid": "{{TestIds.BlockedPartner}}", "oid": "{{Guid.NewGuid()}}" } },
              { "application": { "appId": "{{TestIds.OpenApp}}" }, "claims": { "tid": "{{TestIds.AllowedPartner}}", "oid": "{{Guid.NewGuid()}}" } } ]
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var decisions = (await response.JsonAsync()).AsArray();
        Assert.Equal("InboundPolicyBlocked", (string?)decisions[0]!["reason"]);
        Assert.Equal("AADSTS500213", (string?)decisions[0]!["errorCode"]);
        Assert.Equal("Allowed", (string?)decisions[1]!["reason"]);
    }
}
