using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using XtacGateway.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Admin;

/// <summary>Admin API calls on a gateway's management listener, as a resource-tenant admin with the given directory role.</summary>
internal static class AdminClient
{
    public const string Base = "/admin/policies/crossTenantAccessPolicy";

    public static string AdminToken(this GatewayHarness gateway, string? role = AdminRoles.GlobalAdministrator, Guid? tenant = null, string? objectId = null)
        => gateway.Token(tenant ?? TestIds.ResourceTenant, claims =>
        {
            if (role is not null)
            {
                claims["wids"] = new List<object> { role };
            }

            if (objectId is not null)
            {
                claims["oid"] = objectId;
            }
        });

    public static async Task<HttpResponseMessage> AdminWithTokenAsync(this GatewayHarness gateway, HttpMethod method, string path, string? token, string? body = null, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return await gateway.Management.SendAsync(request);
    }

    public static Task<HttpResponseMessage> AdminAsync(this GatewayHarness gateway, HttpMethod method, string path, string? body = null, string? ifMatch = null)
        => gateway.AdminWithTokenAsync(method, path, gateway.AdminToken(), body, ifMatch);

    public static async Task<JsonNode> JsonAsync(this HttpResponseMessage response)
        => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    /// <summary>Every page from <paramref name="first"/> on, following <c>@odata.nextLink</c>: each page's <c>value</c>.</summary>
    public static async Task<List<JsonArray>> PagesAsync(this GatewayHarness gateway, string first, int most = 10)
    {
        var pages = new List<JsonArray>();
        for (var link = first; link is not null;)
        {
            using var page = await gateway.AdminAsync(HttpMethod.Get, link);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var body = await page.JsonAsync();
            pages.Add(body["value"]!.AsArray());
            link = (string?)body["@odata.nextLink"];
            Assert.True(pages.Count <= most, "the next links did not end");
        }

        return pages;
    }

    /// <summary>Five audited changes (MFA trust toggled from what it is), returning the policy versions they answered with, oldest first.</summary>
    public static async Task<List<long>> FiveAuditedChangesAsync(this GatewayHarness gateway)
    {
        using var read = await gateway.AdminAsync(HttpMethod.Get, $"{Base}/default");
        var accepted = (bool?)(await read.JsonAsync())["inboundTrust"]?["isMfaAccepted"] ?? false;
        var versions = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            accepted = !accepted;
            using var change = await gateway.AdminAsync(HttpMethod.Patch, $"{Base}/default",
                $$"""{ "inboundTrust": { "isMfaAccepted": {{(accepted ? "true" : "false")}}, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false } }""");
            Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
            versions.Add(change.PolicyVersion());
        }

        Assert.Equal(5, versions.Distinct().Count());
        return versions;
    }

    /// <summary>The policy versions of the audit entries on each page from <paramref name="first"/> on.</summary>
    public static async Task<List<long[]>> AuditPagesAsync(this GatewayHarness gateway, string first)
        => [.. (await gateway.PagesAsync(first)).Select(page => page.Select(e => (long)e!["policyVersion"]!).ToArray())];

    public static string ETag(this HttpResponseMessage response) => response.Headers.ETag?.Tag ?? response.Headers.GetValues("ETag").Single();

    public static long PolicyVersion(this HttpResponseMessage response) => long.Parse(response.Headers.GetValues(AdminApi.PolicyVersionHeader).Single());

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes; returns whether it held.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }
    }
}
