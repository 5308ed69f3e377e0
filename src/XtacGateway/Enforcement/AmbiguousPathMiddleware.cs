using System.Buffers;
using Microsoft.Extensions.Options;
using XtacGateway.Observability;

namespace XtacGateway.Enforcement;

/// <summary>
/// Refuses a request whose path servers read differently. Routing picks the route, and so the app and its grant
/// controls, from the path as Kestrel decoded it; an upstream may merge <c>//</c>, decode <c>%2F</c> or <c>%5C</c>,
/// read <c>\</c> as <c>/</c>, drop <c>;parameters</c> from a segment (nginx, Tomcat, Jetty and IIS each do some of
/// these), or serve files through Windows, which trims a segment's trailing dots and spaces. <c>//mfa/x</c> matches the catch-all route here and reaches <c>/mfa/x</c> there, without the MFA its route
/// requires. Answered 400 before routing, so nothing is forwarded; <c>Xtac:Paths:RejectAmbiguous=false</c> turns it off,
/// <c>Xtac:Paths:RejectTrailingDotOrSpace=false</c> only the trailing dot and space.
/// </summary>
internal sealed class AmbiguousPathMiddleware(RequestDelegate next, IOptions<GatewayOptions> options)
{
    private readonly bool _rejectTrailingDotOrSpace = options.Value.Paths.RejectTrailingDotOrSpace;

    private static readonly SearchValues<char> s_suspect = SearchValues.Create("\\;%");

    [Flags]
    private enum Ambiguity
    {
        None = 0,
        EmptySegment = 1,
        Escape = 2,
        Backslash = 4,
        Parameter = 8,
        TrailingDotOrSpace = 16,
    }

    public Task Invoke(HttpContext context)
    {
        var found = context.Request.Path.Value is { } path ? Find(path, _rejectTrailingDotOrSpace) : Ambiguity.None;
        if (found == Ambiguity.None)
        {
            return next(context);
        }

        GatewayTelemetry.MarkAnsweredByGateway(context);
        return Results.Problem(
            statusCode: StatusCodes.Status400BadRequest,
            title: "Ambiguous request path",
            detail: $"The request path has {Describe(found)}, which servers behind the gateway may read as another path than the one " +
                "its routes were matched against. Send the path with single slashes, no encoded '/' or '\\', no ';' parameters, " +
                "and no segment ending in '.' or ' '.")
            .ExecuteAsync(context);
    }

    private static Ambiguity Find(string path, bool trailingDotOrSpace)
    {
        var found = path.Contains("//", StringComparison.Ordinal) ? Ambiguity.EmptySegment : Ambiguity.None;

        // Kestrel has already removed the "." and ".." segments, so what ends in a dot here is a name ("/mfa./x").
        if (trailingDotOrSpace
            && (path.EndsWith('.') || path.EndsWith(' ') || path.Contains("./", StringComparison.Ordinal) || path.Contains(" /", StringComparison.Ordinal)))
        {
            found |= Ambiguity.TrailingDotOrSpace;
        }

        // Most paths have none of these characters, so one scan clears them.
        if (path.AsSpan().IndexOfAny(s_suspect) < 0)
        {
            return found;
        }

        if (HasEscape(path))
        {
            found |= Ambiguity.Escape;
        }

        if (path.Contains('\\'))
        {
            found |= Ambiguity.Backslash;
        }

        if (path.Contains(';'))
        {
            found |= Ambiguity.Parameter;
        }

        return found;
    }

    /// <summary>
    /// An escape still there after Kestrel decoded the path: <c>%2F</c>, which it leaves encoded, or a double-encoded
    /// character (<c>%252F</c>), which an upstream that decodes again reads as <c>/</c>. A lone '%' (<c>100%25</c>) is none.
    /// </summary>
    private static bool HasEscape(string path)
    {
        for (var i = path.IndexOf('%'); i >= 0 && i + 2 < path.Length; i = path.IndexOf('%', i + 1))
        {
            if (char.IsAsciiHexDigit(path[i + 1]) && char.IsAsciiHexDigit(path[i + 2]))
            {
                return true;
            }
        }

        return false;
    }

    private static string Describe(Ambiguity found)
    {
        var parts = new List<string>(5);
        if (found.HasFlag(Ambiguity.EmptySegment))
        {
            parts.Add("an empty segment ('//')");
        }

        if (found.HasFlag(Ambiguity.Escape))
        {
            parts.Add("an escape left after decoding (an encoded '/', or a double-encoded character)");
        }

        if (found.HasFlag(Ambiguity.Backslash))
        {
            parts.Add("a backslash");
        }

        if (found.HasFlag(Ambiguity.Parameter))
        {
            parts.Add("a ';' parameter");
        }

        if (found.HasFlag(Ambiguity.TrailingDotOrSpace))
        {
            parts.Add("a segment ending in '.' or ' ' (which Windows trims from file names)");
        }

        return string.Join(" and ", parts);
    }
}

internal static class AmbiguousPathExtensions
{
    /// <summary>First in the pipeline, before routing, unless <c>Xtac:Paths:RejectAmbiguous</c> is false.</summary>
    public static IApplicationBuilder UseXtacAmbiguousPathCheck(this IApplicationBuilder app)
        => app.ApplicationServices.GetRequiredService<IOptions<GatewayOptions>>().Value.Paths.RejectAmbiguous
            ? app.UseMiddleware<AmbiguousPathMiddleware>()
            : app;
}
