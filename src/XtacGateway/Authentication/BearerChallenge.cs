namespace XtacGateway.Authentication;

/// <summary>RFC 6750 challenges for a valid token that does not enable the access asked for.</summary>
internal static class BearerChallenge
{
    /// <summary>
    /// RFC 6750 3.1: <c>insufficient_scope</c> with a 403. The description's characters are restricted to printable
    /// ASCII without a quote or backslash, so others are replaced rather than break the header.
    /// </summary>
    public static string InsufficientScope(string description)
        => $"Bearer error=\"insufficient_scope\", error_description=\"{string.Create(description.Length, description, static (span, text) =>
        {
            for (var i = 0; i < text.Length; i++)
            {
                span[i] = text[i] is '"' or '\\' ? '\'' : text[i] is < ' ' or > '~' ? '?' : text[i];
            }
        })}\"";
}
