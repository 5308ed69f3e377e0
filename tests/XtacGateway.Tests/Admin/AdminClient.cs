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
