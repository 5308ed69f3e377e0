using System.Globalization;

namespace XtacGateway.Hosting;

/// <summary>A <c>Retry-After</c> value in whole seconds (RFC 9110 10.2.3), at least one: a client must not retry at once.</summary>
internal static class RetryAfterHeader
{
    public static string Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
