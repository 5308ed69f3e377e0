using System.Net;
using System.Text.Json;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>Checks of the gateway's answers that many tests share.</summary>
internal static class ProblemAssert
{
    /// <summary>Asserts a 403 problem+json body with every contract field and its Bearer challenge, and returns it.</summary>
    public static async Task<JsonElement> ForbiddenAsync(HttpResponseMessage response, string reason, string? errorCode, Guid? homeTenantId)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"expected 403, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(text);
        var body = json.RootElement.Clone();
        Assert.Equal(403, body.GetProperty("status").GetInt32());
        Assert.Equal(reason, body.GetProperty("reason").GetString());
        AssertNullableString(body, "errorCode", errorCode);
        AssertNullableString(body, "homeTenantId", homeTenantId?.ToString());
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("detail").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("traceId").GetString()));
        // RFC 6750 3.1: the valid token does not enable access.
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Equal($"error=\"insufficient_scope\", error_description=\"{(errorCode is null ? reason : $"{errorCode}: {reason}")}\"", challenge.Parameter);
        return body;
    }

    /// <summary>Asserts a problem+json answer with <paramref name="status"/> whose detail contains <paramref name="detailPart"/>.</summary>
    public static async Task IsProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailPart)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(text);
        Assert.Equal((int)status, json.RootElement.GetProperty("status").GetInt32());
        Assert.Contains(detailPart, json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Asserts a 403 for a token that does not carry what the call needs: problem details whose detail contains
    /// <paramref name="detailPart"/>, and RFC 6750's <c>insufficient_scope</c> challenge describing the same.
    /// </summary>
    public static async Task InsufficientScopeAsync(HttpResponseMessage response, string detailPart)
    {
        await IsProblemAsync(response, HttpStatusCode.Forbidden, detailPart);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.StartsWith("error=\"insufficient_scope\", error_description=\"", challenge.Parameter, StringComparison.Ordinal);
        Assert.Contains(detailPart, challenge.Parameter, StringComparison.Ordinal);
    }

    /// <summary>Asserts a 401 Bearer challenge; <paramref name="tokenSent"/> also requires <c>error="invalid_token"</c>.</summary>
    public static void Unauthorized(HttpResponseMessage response, bool tokenSent)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        if (tokenSent)
        {
            Assert.Contains("error=\"invalid_token\"", challenge.Parameter ?? string.Empty, StringComparison.Ordinal);
        }
    }

    /// <summary>The messages of an exception and all its inner exceptions (aggregates included), one per line.</summary>
    public static string AllMessages(Exception exception)
    {
        var messages = new List<string>();
        var pending = new Stack<Exception>();
        pending.Push(exception);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            messages.Add($"{current.GetType().Name}: {current.Message}");
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (current.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }

        return string.Join(Environment.NewLine, messages);
    }

    private static void AssertNullableString(JsonElement body, string name, string? expected)
    {
        var value = body.GetProperty(name);
        if (expected is null)
        {
            Assert.Equal(JsonValueKind.Null, value.ValueKind);
        }
        else
        {
            Assert.Equal(expected, value.GetString(), ignoreCase: true);
        }
    }
}
