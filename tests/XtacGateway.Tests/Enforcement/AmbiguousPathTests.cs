using System.Net;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Enforcement;

/// <summary>
/// Paths an upstream may read as another path than the one the gateway routed ("//mfa/x" as "/mfa/x"), sent as raw
/// request targets: HttpClient would normalise some of them before they left.
/// </summary>
public sealed class AmbiguousPathTests
{
    [Theory]
    [InlineData("//mfa/x", "an empty segment")]
    [InlineData("/.//mfa/x", "an empty segment")]
    [InlineData("/mfa%2Fx", "an escape left after decoding")]
    [InlineData("/mfa%2fx", "an escape left after decoding")]
    [InlineData("/mfa%5Cx", "a backslash")]
    [InlineData("/\\mfa/x", "a backslash")]
    [InlineData("/mfa;x/y", "a ';' parameter")]
    [InlineData("/mfa%252Fx", "an escape left after decoding")]
    [InlineData("/mfa./x", "a segment ending in '.' or ' '")]
    [InlineData("/mfa%2E/x", "a segment ending in '.' or ' '")]
    [InlineData("/mfa%20/x", "a segment ending in '.' or ' '")]
    [InlineData("/mfa/x.", "a segment ending in '.' or ' '")]
    public async Task Invoke_PathAnUpstreamMayReadAsAnother_400NamingWhyAndNothingForwarded(string target, string why)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        var (status, body) = await RawGetAsync(gateway, target, gateway.Token());

        Assert.Equal(400, status);
        Assert.Contains("Ambiguous request path", body, StringComparison.Ordinal);
        Assert.Contains(why, body, StringComparison.Ordinal);
        Assert.Empty(gateway.Backend.Requests);
    }

    [Theory]
    [InlineData("/orders/a%20b", 200, "/orders/a%20b")]
    [InlineData("/orders/100%25", 200, "/orders/100%25")]
    [InlineData("/orders/100%25x", 200, "/orders/100%25x")]
    [InlineData("/orders/v1.2/report.pdf", 200, "/orders/v1.2/report.pdf")]
    [InlineData("/orders/.well-known/x", 200, "/orders/.well-known/x")]
    [InlineData("/orders/x?next=//mfa/x;y%2F", 200, "/orders/x")]
    [InlineData("/mfa/x", 403, null)]
    [InlineData("/x/../mfa/x", 403, null)]
    [InlineData("/%6Dfa/x", 403, null)]
    public async Task Invoke_PlainOrDecodablePath_RoutedAsItReads(string target, int expected, string? forwardedPath)
    {
        // Dot segments and escapes other than '/' are resolved by Kestrel before routing, so route and upstream agree.
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard());

        var (status, body) = await RawGetAsync(gateway, target, gateway.Token());

        Assert.True(status == expected, $"{target}: {status} {body}");
        // The upstream reads the path the route was matched against (the MFA route's paths never reach it without MFA).
        Assert.Equal(forwardedPath, gateway.Backend.Requests.SingleOrDefault()?.Path);
    }

    [Fact]
    public async Task Invoke_RejectAmbiguousOff_ForwardedAsSent()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Paths:RejectAmbiguous"] = "false");

        var (status, _) = await RawGetAsync(gateway, "//orders", gateway.Token());

        Assert.Equal(200, status);
        Assert.Equal("//orders", Assert.Single(gateway.Backend.Requests).Path);
    }

    [Fact]
    public async Task Invoke_RejectTrailingDotOrSpaceOff_ForwardedAsSentAndTheRestStillChecked()
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Paths:RejectTrailingDotOrSpace"] = "false");

        var (status, _) = await RawGetAsync(gateway, "/orders/zones/example.com.", gateway.Token());
        var (ambiguous, _) = await RawGetAsync(gateway, "//orders", gateway.Token());

        Assert.Equal(200, status);
        Assert.Equal("/orders/zones/example.com.", Assert.Single(gateway.Backend.Requests).Path);
        Assert.Equal(400, ambiguous);
    }

    private static Task<(int Status, string Response)> RawGetAsync(GatewayHarness gateway, string target, string token)
        => RawHttp.GetAsync(gateway.Client.BaseAddress!, target, $"Authorization: Bearer {token}");
}
