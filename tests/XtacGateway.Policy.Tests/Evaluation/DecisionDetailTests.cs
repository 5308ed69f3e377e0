using XtacGateway.Policy.Evaluation;

namespace XtacGateway.Policy.Tests.Evaluation;

public sealed class DecisionDetailTests
{
    public static TheoryData<DecisionReason, SettingsSource> DenialsFromSettings()
    {
        var data = new TheoryData<DecisionReason, SettingsSource>();
        foreach (var reason in Enum.GetValues<DecisionReason>().Where(r => !new Decision(r, SettingsSource.None, null, Guid.Empty).IsAllowed))
        {
            data.Add(reason, SettingsSource.Default);
            data.Add(reason, SettingsSource.Partner);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DenialsFromSettings))]
    public void Detail_Denial_SaysNeitherWhoseSettingsDecidedNorWhomTheyName(DecisionReason reason, SettingsSource source)
    {
        // Denied callers read the detail; the resource tenant's configuration is its own business.
        var detail = new Decision(reason, source, Guid.NewGuid(), Guid.NewGuid()).Detail;

        Assert.False(string.IsNullOrWhiteSpace(detail));
        Assert.DoesNotContain("partner", detail, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("default", detail, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("specific", detail, StringComparison.OrdinalIgnoreCase);
    }
}
