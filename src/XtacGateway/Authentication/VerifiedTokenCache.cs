using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using XtacGateway.Observability;

namespace XtacGateway.Authentication;

/// <summary>
/// Tokens JwtBearer accepted, keyed by the raw token, so that a caller's repeated requests skip the RSA check and the
/// authentication handler. Bounded in entries and bytes; an entry never outlives the token's <c>exp</c> or
/// <see cref="TokenCacheOptions.MaxLifetime"/>; entries signed by a key that left the JWKS, or that is published under
/// its ID with other material or another issuer binding, are dropped.
/// </summary>
internal sealed class VerifiedTokenCache : IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(TokenComparer.Instance);
    // Looked up by the span of the Authorization header: a hit copies nothing (tokens are ~1 KB of text).
    private readonly ConcurrentDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _entriesBySpan;
    private readonly Lock _trimLock = new();
    private readonly ITimer _expirySweep;
    private readonly TimeProvider _time;
    private readonly GatewayTelemetry _telemetry;
    private readonly TokenCacheOptions _options;
    private readonly SigningKeyManager _keys;
    private long _bytes;

    /// <summary>
    /// The entries, counted here: ConcurrentDictionary.Count takes every one of its locks, and the limit check runs on
    /// every addition, so a flood of new tokens would have each addition stall the others.
    /// </summary>
    private int _count;

    public VerifiedTokenCache(IOptions<TokenCacheOptions> options, TimeProvider time, GatewayTelemetry telemetry, SigningKeyManager keys)
    {
        _options = options.Value;
        _time = time;
        _telemetry = telemetry;
        _entriesBySpan = _entries.GetAlternateLookup<ReadOnlySpan<char>>();
        _keys = keys;
        keys.KeysChanged += RemoveKeysNoLongerAsVerified;
        // Tokens nobody presents again would otherwise stay until the limits push them out.
        _expirySweep = time.CreateTimer(_ => RemoveExpired(), null, _options.MaxLifetime, _options.MaxLifetime);
    }

    public int Count => Volatile.Read(ref _count);

    public long Bytes => Interlocked.Read(ref _bytes);

    public bool Enabled => _options.Enabled;

    public bool TryGet(ReadOnlySpan<char> token, [NotNullWhen(true)] out ClaimsIdentity? identity)
    {
        if (_entriesBySpan.TryGetValue(token, out var cachedToken, out var entry))
        {
            if (_time.GetUtcNow().UtcTicks < entry.ExpiresAtTicks)
            {
                _telemetry.TokenCacheLookup(hit: true);
                identity = entry.Identity;
                return true;
            }

            Remove(cachedToken, entry);
        }

        _telemetry.TokenCacheLookup(hit: false);
        identity = null;
        return false;
    }

    /// <summary>
    /// Caches a token once JwtBearer has accepted it: signature, lifetime, issuer and audience checked, and every
    /// <c>OnTokenValidated</c> handler (Microsoft.Identity.Web's scope-or-role check among them) passed.
    /// </summary>
    public void Add(JsonWebToken token, ClaimsIdentity identity)
    {
        var raw = token.EncodedToken;
        if (raw.Length > _options.MaxTokenLength || token.ValidTo == DateTime.MinValue)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var expires = new DateTimeOffset(DateTime.SpecifyKind(token.ValidTo, DateTimeKind.Utc));
        var cap = now + _options.MaxLifetime;
        var expiresAt = expires < cap ? expires : cap;
        if (expiresAt <= now)
        {
            return;
        }

        var entry = new Entry(identity, expiresAt.UtcTicks, token.Kid, EntrySize(raw), token.TryGetPayloadValue<string>("tid", out var tenant) ? tenant : null);
        if (!_entries.TryAdd(raw, entry))
        {
            return;
        }

        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _bytes, entry.Size);
        // JwtBearer checked the signature against the keys of when the request began. If a refresh removed or redefined
        // that key since, its sweep may have run before this entry existed: either the sweep or this check catches it.
        // The key itself is compared, not its ID: a key redefined under the same ID is another key object.
        if (!IsInForce(token.SigningKey))
        {
            Remove(raw, entry);
            return;
        }

        if (IsOverLimits())
        {
            Trim();
        }
    }

    public void Dispose() => _expirySweep.Dispose();

    /// <summary>Drops every entry: the next request with each token is validated again.</summary>
    public void Clear()
    {
        foreach (var (token, entry) in _entries)
        {
            Remove(token, entry);
        }
    }

    private bool IsOverLimits() => Volatile.Read(ref _count) > _options.MaxEntries || Interlocked.Read(ref _bytes) > _options.MaxBytes;

    private void Trim()
    {
        lock (_trimLock)
        {
            if (!IsOverLimits())
            {
                return;
            }

            RemoveExpired();
            if (!IsOverLimits())
            {
                return;
            }

            // Full of live tokens: drop some down to nine tenths of each limit, so that the next additions do not each
            // pay for a sweep. The tenant holding the most (entries, or bytes when those are over) gives up one first,
            // its nearest its end, then whichever holds the most after that. Any Entra tenant can mint valid tokens for
            // a multi-tenant app: one that sends token after token takes at most an equal share from the largest
            // holders instead of pushing everyone else out. Grouped by 'tid', the claim the issuer check binds to
            // 'iss', whatever 'Xtac:Claims:TenantId' names.
            var entries = Math.Max(1, _options.MaxEntries - (_options.MaxEntries / 10));
            var bytes = _options.MaxBytes - (_options.MaxBytes / 10);
            var byBytes = Interlocked.Read(ref _bytes) > _options.MaxBytes;
            var largestFirst = new PriorityQueue<TenantHolding, long>();
            foreach (var tenant in _entries.ToArray().GroupBy(e => e.Value.Tenant, StringComparer.Ordinal))
            {
                var holding = new TenantHolding([.. tenant.OrderBy(e => e.Value.ExpiresAtTicks)]);
                largestFirst.Enqueue(holding, -holding.Weight(byBytes));
            }

            while ((Volatile.Read(ref _count) > entries || Interlocked.Read(ref _bytes) > bytes) && largestFirst.TryDequeue(out var holding, out _))
            {
                var (token, entry) = holding.GiveUpOne();
                Remove(token, entry);
                if (holding.Count > 0)
                {
                    largestFirst.Enqueue(holding, -holding.Weight(byBytes));
                }
            }
        }
    }

    private void RemoveExpired()
    {
        var now = _time.GetUtcNow().UtcTicks;
        foreach (var (token, entry) in _entries)
        {
            if (entry.ExpiresAtTicks <= now)
            {
                Remove(token, entry);
            }
        }
    }

    /// <summary>Removes this very entry: a newer entry for the same token, added meanwhile, stays.</summary>
    private void Remove(string token, Entry entry)
    {
        if (_entries.TryRemove(KeyValuePair.Create(token, entry)))
        {
            Interlocked.Decrement(ref _count);
            Interlocked.Add(ref _bytes, -entry.Size);
        }
    }

    /// <summary>
    /// Drops the entries of keys that left the JWKS, and of keys still published under their ID but changed (other
    /// material, or bound to another issuer), which might refuse the tokens they once accepted.
    /// </summary>
    private void RemoveKeysNoLongerAsVerified(PublishedSigningKeys keys)
    {
        // Raised after the key manager swapped the key set in. A full fence: the sweep's reads below must not move
        // before that write, or an entry added meanwhile (whose own check reads the key set after a fence of its own)
        // could be missed by both.
        Interlocked.MemoryBarrier();
        var published = keys.KeyIds;
        foreach (var (token, entry) in _entries)
        {
            if (!IsPublished(entry, published) || keys.Redefined.Contains(entry.KeyId!))
            {
                Remove(token, entry);
            }
        }
    }

    /// <summary>
    /// Whether the key that verified a token is one of the key set in force. Every refresh reads new key objects, so a
    /// token validated across any refresh is not cached, only validated again on its next request.
    /// </summary>
    private bool IsInForce(SecurityKey? key)
    {
        // After the entry's addition (a full fence): a key-changing refresh whose swap this misses is one whose sweep,
        // raised after the swap, sees the entry.
        if (key is null || _keys.Current is not { } current)
        {
            return false;
        }

        foreach (var inForce in current.SigningKeys)
        {
            if (ReferenceEquals(inForce, key))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsPublished(Entry entry, IReadOnlySet<string> published) => entry.KeyId is not null && published.Contains(entry.KeyId);

    // What an entry keeps alive grows with the token: the key string, the parsed token the identity holds, its claims
    // and the caller's facts read from them. Measured at ~13 bytes per token character plus ~0.3 KB, from 850-character
    // tokens to 8,700-character ones with 150 groups (VerifiedTokenCacheMemoryTests); counted a little above that.
    private static long EntrySize(string token) => (token.Length * 14L) + 1024;

    /// <summary>One tenant's entries during a trim, nearest their end first, with what they hold.</summary>
    private sealed class TenantHolding(KeyValuePair<string, Entry>[] nearestEndFirst)
    {
        private readonly Queue<KeyValuePair<string, Entry>> _entries = new(nearestEndFirst);
        private long _bytes = nearestEndFirst.Sum(e => e.Value.Size);

        public int Count => _entries.Count;

        public long Weight(bool byBytes) => byBytes ? _bytes : _entries.Count;

        public KeyValuePair<string, Entry> GiveUpOne()
        {
            var given = _entries.Dequeue();
            _bytes -= given.Value.Size;
            return given;
        }
    }

    // A class, not a record: removal compares entries by reference.
    private sealed class Entry(ClaimsIdentity identity, long expiresAtTicks, string? keyId, long size, string? tenant)
    {
        public ClaimsIdentity Identity { get; } = identity;

        public long ExpiresAtTicks { get; } = expiresAtTicks;

        public string? KeyId { get; } = keyId;

        public long Size { get; } = size;

        /// <summary>The token's <c>tid</c>: entries are given up tenant by tenant, the largest holder first.</summary>
        public string? Tenant { get; } = tenant;
    }

    /// <summary>
    /// Ordinal equality over the whole token, with a hash of its last characters only. A JWT ends in its signature,
    /// which already differs between any two tokens; hashing the rest cost every lookup ~0.2 µs.
    /// Two tokens that share a tail (a forged payload with a copied signature) land in one bucket and are still told
    /// apart by the full comparison.
    /// </summary>
    private sealed class TokenComparer : IEqualityComparer<string>, IAlternateEqualityComparer<ReadOnlySpan<char>, string>
    {
        // 32 base64url characters: 192 bits of an RS256 signature, far more than a hash code can use.
        private const int HashedTail = 32;

        public static TokenComparer Instance { get; } = new();

        public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);

        public bool Equals(ReadOnlySpan<char> alternate, string other) => alternate.SequenceEqual(other);

        public int GetHashCode(string token) => Hash(token);

        public int GetHashCode(ReadOnlySpan<char> alternate) => Hash(alternate);

        public string Create(ReadOnlySpan<char> alternate) => alternate.ToString();

        // HashCode is seeded per process, so bucket placement cannot be predicted from outside.
        private static int Hash(ReadOnlySpan<char> token)
        {
            var hash = default(HashCode);
            hash.AddBytes(MemoryMarshal.AsBytes(token.Length > HashedTail ? token[^HashedTail..] : token));
            return hash.ToHashCode();
        }
    }
}

internal sealed class TokenCacheOptions
{
    public const string Section = "Xtac:TokenCache";

    public bool Enabled { get; set; } = true;

    [Range(1, int.MaxValue)]
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>
    /// The entries' estimated heap (each ~14 bytes per token character: the parsed token, its claims, the caller's
    /// facts; ~12 KB for a plain 850-character token, ~120 KB with 150 groups): past it, those nearest expiry go first.
    /// </summary>
    [Range(1L, long.MaxValue)]
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>No entry lives longer than this, whatever the token's <c>exp</c>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Longer tokens are validated every time rather than cached.</summary>
    [Range(1, int.MaxValue)]
    public int MaxTokenLength { get; set; } = 16 * 1024;
}

/// <summary>
/// JwtBearer's <see cref="JsonWebTokenHandler"/> with a same-request retry after a signing key refresh when the token
/// names a key the gateway has not seen yet.
/// </summary>
internal sealed class KeyRefreshingTokenHandler(JsonWebTokenHandler inner, SigningKeyManager keys) : TokenHandler
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
        var result = await inner.ValidateTokenAsync(token, validationParameters);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            // Rotated keys: validate this very request against the new key set instead of failing it.
            try
            {
                await keys.RefreshForUnknownKeyAsync();
            }
            catch (SigningKeysUnavailableException ex)
            {
                return new TokenValidationResult { IsValid = false, Exception = ex };
            }

            if (keys.Current is { } refreshed && !ReferenceEquals(refreshed.SigningKeys, validationParameters.IssuerSigningKeys))
            {
                var retry = validationParameters.Clone();
                retry.IssuerSigningKeys = refreshed.SigningKeys;
                result = await inner.ValidateTokenAsync(token, retry);
            }
        }

        return result;
    }
}
