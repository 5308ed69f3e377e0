using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using XtacGateway.Observability;

namespace XtacGateway.Authentication;

/// <summary>
/// Fully validated tokens, keyed by the raw token, so that a caller's repeated requests skip the RSA check.
/// Bounded in entries and bytes; an entry never outlives the token's <c>exp</c> or <see cref="TokenCacheOptions.MaxLifetime"/>;
/// entries signed by a key that left the JWKS are dropped.
/// </summary>
internal sealed class VerifiedTokenCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    // Looked up by the span of the Authorization header: a hit copies nothing (tokens are ~1 KB of text).
    private readonly ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _entriesBySpan;
    private readonly ConcurrentQueue<string> _insertionOrder = new();
    private readonly TimeProvider _time;
    private readonly GatewayTelemetry _telemetry;
    private readonly TokenCacheOptions _options;
    private long _bytes;

    public VerifiedTokenCache(IOptions<TokenCacheOptions> options, TimeProvider time, GatewayTelemetry telemetry, SigningKeyManager keys)
    {
        _options = options.Value;
        _time = time;
        _telemetry = telemetry;
        _entriesBySpan = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        keys.KeysChanged += RemoveKeysNotIn;
    }

    public int Count => _entries.Count;

    public long Bytes => Interlocked.Read(ref _bytes);

    public bool Enabled => _options.Enabled;

    public bool TryGet(ReadOnlySpan<char> token, out TokenValidationResult result)
    {
        if (_entriesBySpan.TryGetValue(token, out var cachedToken, out var entry))
        {
            if (_time.GetUtcNow().UtcTicks < entry.ExpiresAtTicks)
            {
                _telemetry.TokenCacheLookup(hit: true);
                result = entry.Result;
                return true;
            }

            Remove(cachedToken);
        }

        _telemetry.TokenCacheLookup(hit: false);
        result = null!;
        return false;
    }

    /// <summary>Caches a result that is fully valid; anything else is never cached.</summary>
    public void Add(string token, TokenValidationResult result)
    {
        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt || token.Length > _options.MaxTokenLength)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var expires = new DateTimeOffset(DateTime.SpecifyKind(jwt.ValidTo, DateTimeKind.Utc));
        var cap = now + _options.MaxLifetime;
        var expiresAt = expires < cap ? expires : cap;
        if (jwt.ValidTo == DateTime.MinValue || expiresAt <= now)
        {
            return;
        }

        var size = EntrySize(token);
        if (_entries.TryAdd(token, new Entry(result, expiresAt.UtcTicks, jwt.Kid, size)))
        {
            Interlocked.Add(ref _bytes, size);
            _insertionOrder.Enqueue(token);
            Trim();
        }
    }

    private void Trim()
    {
        // Oldest first; entries already gone (expired, key removed) are skipped.
        while ((_entries.Count > _options.MaxEntries || Interlocked.Read(ref _bytes) > _options.MaxBytes) && _insertionOrder.TryDequeue(out var oldest))
        {
            Remove(oldest);
        }
    }

    private void Remove(string token)
    {
        if (_entries.TryRemove(token, out var removed))
        {
            Interlocked.Add(ref _bytes, -removed.Size);
        }
    }

    private void RemoveKeysNotIn(IReadOnlySet<string> published)
    {
        foreach (var (token, entry) in _entries)
        {
            if (entry.KeyId is null || !published.Contains(entry.KeyId))
            {
                Remove(token);
            }
        }
    }

    // The key string twice (dictionary and queue share one instance) plus the result and its claims, roughly.
    private static long EntrySize(string token) => (token.Length * sizeof(char)) + 2048;

    private sealed record Entry(TokenValidationResult Result, long ExpiresAtTicks, string? KeyId, long Size);
}

internal sealed class TokenCacheOptions
{
    public const string Section = "Xtac:TokenCache";

    public bool Enabled { get; set; } = true;

    public int MaxEntries { get; set; } = 100_000;

    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>No entry lives longer than this, whatever the token's <c>exp</c>.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Longer tokens are validated every time rather than cached.</summary>
    public int MaxTokenLength { get; set; } = 16 * 1024;
}

/// <summary>
/// JwtBearer's token handler with the verified-token cache in front of <see cref="JsonWebTokenHandler"/>, and a
/// same-request retry after a signing key refresh when the token names a key the gateway has not seen yet.
/// </summary>
internal sealed class CachingTokenHandler(JsonWebTokenHandler inner, VerifiedTokenCache cache, SigningKeyManager keys) : TokenHandler
{
    public override int MaximumTokenSizeInBytes
    {
        get => inner.MaximumTokenSizeInBytes;
        set => inner.MaximumTokenSizeInBytes = value;
    }

    public bool MapInboundClaims
    {
        get => inner.MapInboundClaims;
        set => inner.MapInboundClaims = value;
    }

    public override SecurityToken ReadToken(string token) => inner.ReadToken(token);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        // Cache hits never get here: VerifiedTokenShortcut answers them before JwtBearer starts validating.
        var result = await inner.ValidateTokenAsync(token, validationParameters);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // Rotated keys: validate this very request against the new key set instead of failing it.
            await keys.RefreshForUnknownKeyAsync();
            if (keys.Current is { } refreshed && !ReferenceEquals(refreshed.SigningKeys, validationParameters.IssuerSigningKeys))
            {
                var retry = validationParameters.Clone();
                retry.IssuerSigningKeys = refreshed.SigningKeys;
                result = await inner.ValidateTokenAsync(token, retry);
            }
        }

        if (cache.Enabled)
        {
            cache.Add(token, result);
        }

        return result;
    }
}

/// <summary>
/// Answers a cached token in JwtBearer's <c>OnMessageReceived</c>, before JwtBearer clones its validation parameters
/// and validates: a cache hit costs a dictionary lookup. Everything else goes on to full validation.
/// </summary>
internal static class VerifiedTokenShortcut
{
    private const string BearerPrefix = "Bearer ";

    public static Func<MessageReceivedContext, Task> Wrap(Func<MessageReceivedContext, Task> previous, VerifiedTokenCache cache)
    {
        if (!cache.Enabled)
        {
            return previous;
        }

        return context =>
        {
            var before = previous(context);
            return before.IsCompletedSuccessfully ? TryAnswer(context, cache) : AfterAsync(before, context, cache);
        };
    }

    private static async Task AfterAsync(Task before, MessageReceivedContext context, VerifiedTokenCache cache)
    {
        await before;
        await TryAnswer(context, cache);
    }

    private static Task TryAnswer(MessageReceivedContext context, VerifiedTokenCache cache)
    {
        if (context.Result is not null)
        {
            return Task.CompletedTask;
        }

        var token = context.Token.AsSpan();
        if (context.Token is null)
        {
            string? authorization = context.Request.Headers.Authorization;
            if (authorization is null || !authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                return Task.CompletedTask;
            }

            token = authorization.AsSpan(BearerPrefix.Length).Trim();
        }

        if (token.Length > 0 && cache.TryGet(token, out var verified))
        {
            context.Principal = new ClaimsPrincipal(verified.ClaimsIdentity);
            context.Success();
        }

        return Task.CompletedTask;
    }
}
