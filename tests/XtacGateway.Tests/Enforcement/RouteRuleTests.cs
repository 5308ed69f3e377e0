using XtacGateway.Enforcement;
using XtacGateway.Policy.Evaluation;
using Yarp.ReverseProxy.Configuration;

namespace XtacGateway.Tests.Enforcement;

public sealed class RouteRuleTests
{
    private static readonly string AppId = Guid.NewGuid().ToString();

    [Fact]
    public void Parse_RouteFromCodeWithCaseSensitiveMetadata_ReadsKeysWhateverTheirCase()
    {
        // Configuration gives YARP case-insensitive metadata; a route built in code may not. The key passes the check
        // whatever its case, so it must be read whatever its case too, or the app loses its controls (fail open).
        var route = new RouteConfig
        {
            RouteId = "from-code",
            Metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["xtac.appid"] = AppId,
                ["XTAC.GRANTCONTROLS"] = "mfa,compliantDevice",
                ["Xtac.grantOperator"] = "AND",
            },
        };

        var rule = RouteRule.Parse(route, out var errors);

        Assert.Empty(errors);
        Assert.Equal(AppId, rule!.AppTag);
        Assert.Equal(GrantOperator.And, rule.App!.Operator);
        Assert.Equal([GrantControl.Mfa, GrantControl.CompliantDevice], rule.App.Controls);
    }

    [Fact]
    public void Parse_KeyGivenTwiceInDifferentCase_RefusedNamingIt()
    {
        var route = new RouteConfig
        {
            RouteId = "from-code",
            Metadata = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["Xtac.AppId"] = AppId,
                ["Xtac.GrantControls"] = "mfa",
                ["xtac.grantcontrols"] = "",
            },
        };

        Assert.Null(RouteRule.Parse(route, out var errors));
        Assert.Contains(errors, e => e.Contains("'xtac.grantcontrols' more than once", StringComparison.Ordinal));
    }
}
