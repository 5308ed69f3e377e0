using XtacGateway.Policy.Model;

namespace XtacGateway.Policy.Validation;

/// <summary>The outcome of reading a policy document: the document when it is valid, otherwise every error found.</summary>
public sealed class PolicyParseResult
{
    private PolicyParseResult(PolicyDocument? document, IReadOnlyList<PolicyError> errors)
    {
        Document = document;
        Errors = errors;
    }

    /// <summary>The parsed document; null when <see cref="Errors"/> is not empty.</summary>
    public PolicyDocument? Document { get; }

    public IReadOnlyList<PolicyError> Errors { get; }

    public bool IsValid => Errors.Count == 0;

    internal static PolicyParseResult Success(PolicyDocument document) => new(document, []);

    internal static PolicyParseResult Failure(IReadOnlyList<PolicyError> errors) => new(null, errors);
}
