using Microsoft.AspNetCore.Authentication.JwtBearer;
using XtacGateway.Hosting;

namespace XtacGateway.Authentication;

/// <summary>
/// While the issuer's signing keys cannot be read (never read yet, or a token names a key the last read could not
/// confirm), the token cannot be checked: callers get 503 with <c>Retry-After</c>, not the 500 of an unhandled exception
/// nor a 401 that blames their token. The reason is logged by <see cref="SigningKeyManager"/>, not shown to callers.
/// </summary>
internal static class SigningKeysUnavailableResponse
{
    public static Func<AuthenticationFailedContext, Task> NoResultWhenUnavailable(Func<AuthenticationFailedContext, Task> previous) => async context =>
    {
        await previous(context);
        // Wrapped in an AggregateException when more than one token handler failed on the token.
        if (context.Result is null && (context.Exception is SigningKeysUnavailableException
            || (context.Exception is AggregateException all && all.InnerExceptions.Any(e => e is SigningKeysUnavailableException))))
        {
            context.HttpContext.Features.Set(SigningKeysUnavailableFeature.Instance);
            context.NoResult();
        }
    };

    public static Func<JwtBearerChallengeContext, Task> AnswerWhenUnavailable(Func<JwtBearerChallengeContext, Task> previous) => async context =>
    {
        if (context.HttpContext.Features.Get<SigningKeysUnavailableFeature>() is null)
        {
            await previous(context);
            return;
        }

        context.HandleResponse();
        var keys = context.HttpContext.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<SigningKeyOptions>>().Value;
        context.Response.Headers.RetryAfter = RetryAfterHeader.Seconds(keys.MinimumRefreshInterval);
        await Results.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Token issuer unavailable",
            detail: "The gateway could not read its token issuer's signing keys, so this token cannot be checked yet. Retry later.")
            .ExecuteAsync(context.HttpContext);
    };
}

/// <summary>Marks a request whose token could not be checked for want of signing keys, for the challenge to answer 503.</summary>
internal sealed class SigningKeysUnavailableFeature
{
    public static readonly SigningKeysUnavailableFeature Instance = new();

    private SigningKeysUnavailableFeature()
    {
    }
}
