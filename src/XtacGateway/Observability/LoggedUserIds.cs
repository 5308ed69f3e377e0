using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace XtacGateway.Observability;

/// <summary>
/// User object IDs as the gateway's logs write them, decisions and admin changes alike: a keyed hash (HMAC-SHA256,
/// first 64 bits) unless <c>Xtac:Telemetry:LogUserObjectIds</c> is on. The audit log keeps the actor as it is: it is
/// the record of who changed what, read only by the admin roles.
/// </summary>
internal sealed partial class LoggedUserIds
{
    private readonly bool _raw;
    private readonly byte[] _key;

    public LoggedUserIds(IOptions<TelemetryOptions> telemetry, IHostEnvironment environment, ILogger<LoggedUserIds> logger)
    {
        _raw = telemetry.Value.LogUserObjectIds;
        if (telemetry.Value.UserIdHashKey is { Length: > 0 } key)
        {
            _key = Encoding.UTF8.GetBytes(key);
        }
        else
        {
            _key = RandomNumberGenerator.GetBytes(32);
            if (!_raw && !environment.IsDevelopment())
            {
                LogRandomKey(logger);
            }
        }
    }

    public string Format(string userObjectId)
        => _raw ? userObjectId : "h:" + Convert.ToHexStringLower(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(userObjectId)).AsSpan(0, 8));

    [LoggerMessage(2003, LogLevel.Warning, "Xtac:Telemetry:UserIdHashKey is not set: logs hash user object IDs with a key of this process only, so one user's hash differs between instances and after a restart. Set one key for the fleet to follow a user across them.")]
    private static partial void LogRandomKey(ILogger logger);
}
