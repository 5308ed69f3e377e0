using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace XtacGateway.Authentication;

/// <summary>
/// The issuer's metadata and signing keys for JwtBearer. Keys are refreshed in the background; an unknown
/// <c>kid</c> asks for one coalesced, rate-limited refresh that the same request can wait for; and while the
/// issuer is unreachable the last good keys keep working.
/// </summary>
internal sealed partial class SigningKeyManager(IOptions<SigningKeyOptions> options, TimeProvider time, ILogger<SigningKeyManager> logger)
    : IConfigurationManager<OpenIdConnectConfiguration>
{
    private readonly Lock _gate = new();
    private OpenIdConnectConfiguration? _current;
    private Task<bool>? _inflight;
    private DateTimeOffset _lastUnknownKeyRefresh = DateTimeOffset.MinValue;
    private DateTimeOffset _lastFailedRefresh = DateTimeOffset.MinValue;

    /// <summary>UTC ticks: read by every request without the lock, and a 16-byte DateTimeOffset could be read torn.</summary>
    private long _nextAutomaticRefreshTicks;
    private TimeSpan _failureBackoff;
    private string? _metadataAddress;
    private IDocumentRetriever? _retriever;
    private SigningKeyStatus? _status;

    /// <summary>
    /// What each published key is, by key ID: its material, the issuer it is bound to and the metadata's issuer. A key
    /// ID that stays while any of these changes is a key that now accepts other tokens.
    /// </summary>
    private Dictionary<string, string>? _keyDefinitions;

    /// <summary>Raised after the key set changed: the key IDs now published, and those among them now defined otherwise.</summary>
    public event Action<PublishedSigningKeys>? KeysChanged;

    public OpenIdConnectConfiguration? Current => Volatile.Read(ref _current);

    private DateTimeOffset NextAutomaticRefresh
    {
        get => new(Volatile.Read(ref _nextAutomaticRefreshTicks), TimeSpan.Zero);
        set => Volatile.Write(ref _nextAutomaticRefreshTicks, value.UtcTicks);
    }

    /// <summary>Where the keys come from, how many were read and when, and the last refresh that failed since; null before any attempt.</summary>
    public SigningKeyStatus? Status => Volatile.Read(ref _status);

    /// <summary>How long until the next refresh is due: after a failure, the back-off it earned (at least the shortest interval).</summary>
    public TimeSpan NextRefreshIn
    {
        get
        {
            var due = NextAutomaticRefresh - time.GetUtcNow();
            return due > options.Value.MinimumRefreshInterval ? due : options.Value.MinimumRefreshInterval;
        }
    }

    public void Attach(string metadataAddress, HttpClient backchannel, bool requireHttps)
    {
        _metadataAddress = metadataAddress;
        _retriever = new HttpDocumentRetriever(backchannel) { RequireHttps = requireHttps };
    }

    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel)
    {
        if (Current is { } current)
        {
            if (time.GetUtcNow() >= NextAutomaticRefresh)
            {
                _ = StartRefresh(force: false);
            }

            return current;
        }

        try
        {
            await StartRefresh(force: true).WaitAsync(cancel);
        }
        catch (Exception ex) when (!cancel.IsCancellationRequested)
        {
            throw new SigningKeysUnavailableException($"No signing keys could be read from '{_metadataAddress}': {ex.Message}", ex);
        }

        return Current ?? throw new SigningKeysUnavailableException(
            $"No signing keys could be read from '{_metadataAddress}' yet; the next attempt is at most {options.Value.MinimumRefreshInterval} away.");
    }

    /// <summary>JwtBearer calls this after an unknown key; the refresh happens in the background, rate-limited.</summary>
    public void RequestRefresh() => _ = StartRefresh(force: false, unknownKey: true);

    /// <summary>
    /// Refreshes now unless one ran moments ago (then joins it if still running); true when the keys changed. Waits at
    /// most <see cref="SigningKeyOptions.UnknownKeyWait"/>: with the issuer stalled, a refresh takes the backchannel's
    /// whole timeout, and forged key IDs would hold every request that names one that long. The refresh itself runs on;
    /// the token is then neither accepted nor refused (<see cref="SigningKeysUnavailableException"/>: 503, try again),
    /// since a real one signed with a just-rotated key would be refused for nothing.
    /// </summary>
    public async Task<bool> RefreshForUnknownKeyAsync()
    {
        bool changed;
        try
        {
            changed = await StartRefresh(force: false, unknownKey: true).WaitAsync(options.Value.UnknownKeyWait, time);
        }
        catch (TimeoutException)
        {
            throw new SigningKeysUnavailableException(
                $"The token names a signing key not seen yet, and reading the issuer's keys from '{_metadataAddress}' took longer than {options.Value.UnknownKeyWait}.");
        }

        // The last read failed (now, or moments ago and not tried again yet): whether the key is the issuer's is not
        // known, so the token is neither accepted nor refused.
        if (Status is { LastFailure: { } failure })
        {
            throw new SigningKeysUnavailableException($"The token names a signing key not seen yet, and the issuer's keys could not be read from '{_metadataAddress}': {failure}");
        }

        return changed;
    }

    private Task<bool> StartRefresh(bool force, bool unknownKey = false)
    {
        lock (_gate)
        {
            if (_inflight is { IsCompleted: false } running)
            {
                return running;
            }

            var now = time.GetUtcNow();
            if (unknownKey)
            {
                // Tokens naming unknown keys are cheap to forge: at most one refresh for them per interval.
                if (now - _lastUnknownKeyRefresh < options.Value.MinimumRefreshInterval)
                {
                    return Task.FromResult(false);
                }

                _lastUnknownKeyRefresh = now;
            }
            else if (!force && now < NextAutomaticRefresh)
            {
                return Task.FromResult(false);
            }
            else if (force && now - _lastFailedRefresh < options.Value.MinimumRefreshInterval)
            {
                // No keys at all and the issuer just failed: without this every request would fetch again.
                return Task.FromResult(false);
            }

            return _inflight = RefreshAsync();
        }
    }

    private async Task<bool> RefreshAsync()
    {
        var address = _metadataAddress ?? throw new InvalidOperationException("The signing key manager has no metadata address.");
        try
        {
            var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(address, _retriever!, CancellationToken.None);
            if (configuration.SigningKeys.Count == 0)
            {
                // Read as a failure, as IdentityModel's own configuration validator has it: taken as the key set, it would
                // turn every caller away (401) until the next refresh, instead of keeping the last good keys.
                throw new InvalidDataException(configuration.JwksUri is null
                    ? "The issuer's metadata names no jwks_uri, so it publishes no signing keys."
                    : $"The issuer's key set at '{configuration.JwksUri}' holds no signing keys.");
            }

            var previous = Current;
            var kids = configuration.SigningKeys.Select(k => k.KeyId).Where(k => k is not null).ToHashSet(StringComparer.Ordinal);
            var definitions = Definitions(configuration);
            var redefined = _keyDefinitions is { } before
                ? definitions.Where(d => before.TryGetValue(d.Key, out var was) && was != d.Value).Select(d => d.Key).ToHashSet(StringComparer.Ordinal)
                : [];
            var changed = previous is null || !kids.SetEquals(previous.SigningKeys.Select(k => k.KeyId).Where(k => k is not null)) || redefined.Count > 0;
            _keyDefinitions = definitions;
            Volatile.Write(ref _current, configuration);
            _failureBackoff = TimeSpan.Zero;
            NextAutomaticRefresh = time.GetUtcNow() + options.Value.RefreshInterval;
            Volatile.Write(ref _status, new SigningKeyStatus(address, configuration.SigningKeys.Count, time.GetUtcNow(), null, null));
            if (changed)
            {
                LogKeysLoaded(logger, address, kids.Count);
                KeysChanged?.Invoke(new PublishedSigningKeys(kids, redefined));
            }

            return changed;
        }
        catch (Exception ex)
        {
            // Whatever went wrong (unreachable, timed out, an answer that is not the issuer's JSON, as a captive portal's
            // page is): keep the last good keys and try again later, backing off up to the normal interval. A type left
            // out here would skip the back-off, and every request would fetch again.
            _failureBackoff = _failureBackoff == TimeSpan.Zero ? options.Value.MinimumRefreshInterval : TimeSpan.FromTicks(Math.Min(_failureBackoff.Ticks * 2, options.Value.RefreshInterval.Ticks));
            _lastFailedRefresh = time.GetUtcNow();
            NextAutomaticRefresh = _lastFailedRefresh + _failureBackoff;
            LogRefreshFailed(logger, address, Current is not null, ex.Message);
            Volatile.Write(ref _status, (Status ?? new SigningKeyStatus(address, 0, null, null, null)) with { LastFailure = ex.Message, LastFailureAt = _lastFailedRefresh });
            if (Current is null)
            {
                throw;
            }

            return false;
        }
    }

    private static Dictionary<string, string> Definitions(OpenIdConnectConfiguration configuration)
    {
        var definitions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in configuration.JsonWebKeySet?.Keys ?? [])
        {
            if (key.Kid is { } kid)
            {
                var boundTo = key.AdditionalData.TryGetValue("issuer", out var issuer) ? issuer?.ToString() : null;
                definitions[kid] = string.Join('|', key.Kty, key.N, key.E, key.Crv, key.X, key.Y, string.Join(',', key.X5c), boundTo, configuration.Issuer);
            }
        }

        return definitions;
    }

    [LoggerMessage(4001, LogLevel.Information, "Signing keys loaded from {Address}: {Count} key(s).")]
    private static partial void LogKeysLoaded(ILogger logger, string address, int count);

    [LoggerMessage(4002, LogLevel.Warning, "Signing keys could not be refreshed from {Address} (last good keys kept: {HaveKeys}): {Reason}")]
    private static partial void LogRefreshFailed(ILogger logger, string address, bool haveKeys, string reason);
}

/// <summary>The signing keys' source and state: the keys of the last good read, and a refresh failed since (null once one succeeds).</summary>
internal sealed record SigningKeyStatus(string Address, int KeyCount, DateTimeOffset? LoadedAt, string? LastFailure, DateTimeOffset? LastFailureAt);

/// <summary>The key IDs published after a refresh, and those among them whose key or issuer binding changed.</summary>
internal sealed record PublishedSigningKeys(IReadOnlySet<string> KeyIds, IReadOnlySet<string> Redefined);

/// <summary>The issuer's signing keys were never read: no token can be checked until they are (the caller gets 503).</summary>
internal sealed class SigningKeysUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

internal sealed class SigningKeyOptions
{
    public const string Section = "Xtac:SigningKeys";

    /// <summary>How often the metadata and JWKS are refreshed in the background.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>At most one refresh for unknown keys in this interval, however many such tokens arrive (zero would be none).</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan MinimumRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a request whose token names an unknown key waits for the refresh it asked for; after that the token is
    /// neither accepted nor refused (503 with Retry-After), and the refresh carries on for the requests after it.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan UnknownKeyWait { get; set; } = TimeSpan.FromSeconds(5);
}
