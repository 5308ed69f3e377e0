using System.Text.Json;
using XtacGateway.Authentication;
using XtacGateway.Policy.Evaluation;

namespace XtacGateway.Enforcement;

/// <summary>Writes a denial as RFC 9457 problem details carrying Entra's error code.</summary>
internal static class DenialResponse
{
    /// <summary>RFC 6750's challenge for each reason, built once: denials can come in floods.</summary>
    private static readonly string[] s_challenges = [.. Enum.GetValues<DecisionReason>().Select(Challenge)];

    /// <param name="retryAfter">Seconds, for the 503 of a gateway without a policy (RFC 9110 10.2.3).</param>
    public static async Task WriteAsync(HttpContext context, Decision decision, string traceId, string retryAfter)
    {
        var status = decision.Reason == DecisionReason.PolicyUnavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status403Forbidden;
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/problem+json";
        response.Headers.CacheControl = "no-store";
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            response.Headers.RetryAfter = retryAfter;
        }
        else
        {
            response.Headers.WWWAuthenticate = s_challenges[(int)decision.Reason];
        }

        await using (var writer = new Utf8JsonWriter(response.BodyWriter))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "https://learn.microsoft.com/entra/identity-platform/reference-error-codes");
            writer.WriteString("title", status == StatusCodes.Status403Forbidden ? "Cross-tenant access denied" : "Cross-tenant access policy unavailable");
            writer.WriteNumber("status", status);
            writer.WriteString("detail", decision.Detail);
            if (decision.ErrorCode is { } code)
            {
                writer.WriteString("errorCode", code);
            }
            else
            {
                writer.WriteNull("errorCode");
            }

            writer.WriteString("reason", decision.ReasonName);
            if (decision.HomeTenantId is { } home)
            {
                writer.WriteString("homeTenantId", home);
            }
            else
            {
                writer.WriteNull("homeTenantId");
            }

            writer.WriteString("traceId", traceId);
            writer.WriteEndObject();
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private static string Challenge(DecisionReason reason)
    {
        var decision = new Decision(reason, SettingsSource.None, null, Guid.Empty);
        return BearerChallenge.InsufficientScope(decision.ErrorCode is { } code ? $"{code}: {decision.ReasonName}" : decision.ReasonName);
    }
}
