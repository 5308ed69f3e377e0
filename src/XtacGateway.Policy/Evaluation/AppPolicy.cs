namespace XtacGateway.Policy.Evaluation;

/// <summary>A built-in grant control in Conditional Access vocabulary.</summary>
public enum GrantControl : byte
{
    Mfa,
    CompliantDevice,
    DomainJoinedDevice,
    Block,
}

public enum GrantOperator : byte
{
    Or,
    And,
}

/// <summary>A protected application and the grant controls it requires; built once per route, read on every request.</summary>
public sealed class AppPolicy
{
    private AppPolicy(Guid appId, GrantOperator grantOperator, GrantControl[] controls)
    {
        AppId = appId;
        Operator = grantOperator;
        Controls = controls;
        Blocks = Array.IndexOf(controls, GrantControl.Block) >= 0;
    }

    public Guid AppId { get; }

    public GrantOperator Operator { get; }

    /// <summary>The controls in the order they were listed; the first unmet one names a denial.</summary>
    public IReadOnlyList<GrantControl> Controls { get; }

    internal bool Blocks { get; }

    /// <summary>An app with no grant controls.</summary>
    public static AppPolicy Open(Guid appId) => new(appId, GrantOperator.Or, []);

    public static AppPolicy Create(Guid appId, GrantOperator grantOperator, params GrantControl[] controls)
        => new(appId, grantOperator, [.. controls]);

    /// <summary>Builds an app policy from its textual form; every problem is added to <paramref name="errors"/>.</summary>
    /// <param name="appId">The application (client) ID as text.</param>
    /// <param name="grantOperator"><c>OR</c> (default when null or empty) or <c>AND</c>.</param>
    /// <param name="controls"><c>mfa</c>, <c>compliantDevice</c>, <c>domainJoinedDevice</c>, <c>block</c>.</param>
    /// <param name="errors">Where to add each problem found, as a plain sentence.</param>
    public static AppPolicy? TryCreate(string? appId, string? grantOperator, IEnumerable<string> controls, ICollection<string> errors)
    {
        var start = errors.Count;
        if (!Guid.TryParse(appId, out var id) || id == Guid.Empty)
        {
            errors.Add($"The application ID must be a GUID, not '{appId}'.");
        }

        var op = GrantOperator.Or;
        if (string.Equals(grantOperator, "AND", StringComparison.OrdinalIgnoreCase))
        {
            op = GrantOperator.And;
        }
        else if (!string.IsNullOrEmpty(grantOperator) && !string.Equals(grantOperator, "OR", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"The grant operator must be 'OR' or 'AND', not '{grantOperator}'.");
        }

        var parsed = new List<GrantControl>();
        foreach (var control in controls)
        {
            if (TryParseControl(control, out var c))
            {
                if (!parsed.Contains(c))
                {
                    parsed.Add(c);
                }
            }
            else
            {
                errors.Add($"Unknown grant control '{control}'; expected mfa, compliantDevice, domainJoinedDevice or block.");
            }
        }

        return errors.Count == start ? new AppPolicy(id, op, [.. parsed]) : null;
    }

    public static bool TryParseControl(string? text, out GrantControl control)
    {
        switch (text?.Trim())
        {
            case "mfa":
                control = GrantControl.Mfa;
                return true;
            case "compliantDevice":
                control = GrantControl.CompliantDevice;
                return true;
            case "domainJoinedDevice":
                control = GrantControl.DomainJoinedDevice;
                return true;
            case "block":
                control = GrantControl.Block;
                return true;
            default:
                control = default;
                return false;
        }
    }

    public static string ControlName(GrantControl control) => control switch
    {
        GrantControl.Mfa => "mfa",
        GrantControl.CompliantDevice => "compliantDevice",
        GrantControl.DomainJoinedDevice => "domainJoinedDevice",
        _ => "block",
    };

    internal GrantControl[] ControlArray => (GrantControl[])Controls;
}
