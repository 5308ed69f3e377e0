using System.Text.Json;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>Policy-file and readiness helpers on top of <see cref="GatewayHarness"/>.</summary>
internal static class GatewayHarnessExtensions
{
    /// <summary>Replaces the policy file the way editors do (write a temporary file, rename it over), so the watcher never sees half a file.</summary>
    public static async Task WritePolicyAsync(this GatewayHarness gateway, string policyJson)
    {
        var temp = Path.Combine(gateway.Directory, $"policy.{Guid.NewGuid():N}.tmp");
        await File.WriteAllTextAsync(temp, policyJson);
        File.Move(temp, gateway.PolicyPath, overwrite: true);
    }

    /// <summary>The policy version <c>/readyz</c> reports on the proxy listener, asserting it answers 200.</summary>
    public static async Task<long> PolicyVersionAsync(this GatewayHarness gateway)
    {
        using var response = await gateway.Client.GetAsync("/readyz");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"/readyz answered {(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("policyVersion").GetInt64();
    }

    /// <summary>Sends requests with <paramref name="token"/> to <paramref name="path"/> every 50 ms until one answers <paramref name="status"/> or <paramref name="timeout"/> passes.</summary>
    public static Task<bool> EventuallyAnswersAsync(this GatewayHarness gateway, string path, string token, System.Net.HttpStatusCode status, TimeSpan timeout)
        => Eventually.TrueAsync(async () =>
        {
            using var response = await gateway.GetAsync(path, token);
            return response.StatusCode == status;
        }, timeout);
}

internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds or <paramref name="timeout"/> passes; returns whether it held.</summary>
    public static async Task<bool> TrueAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }
    }
}
