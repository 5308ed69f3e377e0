using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using XtacGateway.Policies;

namespace XtacGateway.Admin;

/// <summary>One accepted change, in the spirit of Entra's directoryAudit: who, what (Entra's activity name), to whom, before and after.</summary>
internal sealed record AuditEntry
{
    public required string Id { get; init; }

    public required DateTimeOffset ActivityDateTime { get; init; }

    public required string ActivityDisplayName { get; init; }

    public string Category { get; init; } = "CrossTenantAccessSettings";

    public string Result { get; init; } = "success";

    public required AuditActor InitiatedBy { get; init; }

    /// <summary>The partner tenant changed; null for the default configuration.</summary>
    public string? TargetTenantId { get; init; }

    public long PolicyVersion { get; init; }

    public string? PolicyETag { get; init; }

    public required IReadOnlyList<AuditModifiedProperty> ModifiedProperties { get; init; }

    /// <summary>
    /// One stored entry, or null for one a crash or full disk left torn (or a hand edit or another writer broke): the
    /// entries around it stay readable.
    /// </summary>
    public static AuditEntry? TryParse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, AdminJsonContext.Default.AuditEntry);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

internal sealed record AuditActor(string? ObjectId, string? TenantId, string? AppId, IReadOnlyList<string> Roles);

internal sealed record AuditModifiedProperty(string DisplayName, JsonNode? OldValue, JsonNode? NewValue);

internal sealed record AuditEntryList(IReadOnlyList<AuditEntry> Value);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(AuditEntryList))]
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;

/// <summary>Where audit entries go: a Redis stream with the Redis source, else a local append-only file.</summary>
internal interface IAuditLog
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="top"/> entries, newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> ReadAsync(int top, CancellationToken cancellationToken);
}

/// <summary>JSON lines, appended and flushed to disk one entry at a time.</summary>
internal sealed class FileAuditLog(IOptions<AdminOptions> options, IHostEnvironment environment, ILogger<FileAuditLog> logger) : IAuditLog
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public string Path { get; } = options.Value.AuditPath switch
    {
        null or "" => System.IO.Path.Combine(
            Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "XtacGateway", "audit.jsonl"),
        var p when System.IO.Path.IsPathRooted(p) => p,
        var p => System.IO.Path.GetFullPath(System.IO.Path.Combine(environment.ContentRootPath, p)),
    };

    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        // Entry and newline in one write: a crash cannot leave an entry without its line end for the next to run into.
        var json = JsonSerializer.SerializeToUtf8Bytes(entry, AdminJsonContext.Default.AuditEntry);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var directory = System.IO.Path.GetDirectoryName(Path)!;
            if (!Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory);
                AtomicFile.FlushDirectory(System.IO.Path.GetDirectoryName(directory) ?? directory);
            }

            var created = !File.Exists(Path);
            await using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            if (stream.Length > 0 && LastByte(Path, stream.Length) != (byte)'\n')
            {
                // A write cut short by a crash or a full disk left a line without its end: start a new one, so that
                // only the torn entry is lost, not this one with it.
                stream.WriteByte((byte)'\n');
            }

            await stream.WriteAsync(line, cancellationToken);
            await stream.FlushAsync(cancellationToken);
            stream.Flush(flushToDisk: true);
            if (created)
            {
                // The first entry's file name must reach the disk too, or a power cut loses the whole log.
                AtomicFile.FlushDirectory(directory);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(int top, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path))
        {
            return [];
        }

        var entries = new List<AuditEntry>(Math.Min(top, 1024));
        await _gate.WaitAsync(cancellationToken);
        try
        {
            // From the end back, only as far as the newest entries asked for: the log never rotates, so reading it
            // whole would cost memory in proportion to its whole history on every read.
            await foreach (var (offset, line) in LinesFromEndAsync(Path, cancellationToken))
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                if (AuditEntry.TryParse(line) is { } entry)
                {
                    entries.Add(entry);
                    if (entries.Count == top)
                    {
                        break;
                    }
                }
                else
                {
                    AdminLog.AuditLineUnreadable(logger, Path, offset);
                }
            }
        }
        finally
        {
            _gate.Release();
        }

        return entries;
    }

    /// <summary>The file's lines, last first, each with the byte offset it starts at; read in blocks from the end.</summary>
    internal static async IAsyncEnumerable<(long Offset, string Line)> LinesFromEndAsync(
        string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, int blockSize = 64 * 1024)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.Asynchronous);
        var block = new byte[blockSize];
        var position = stream.Length;

        // The start of the line the previous block ended in, carried until its beginning is read ('\n' never occurs
        // inside a UTF-8 sequence, so splitting bytes on it is safe).
        var carry = Array.Empty<byte>();
        while (position > 0)
        {
            var size = (int)Math.Min(blockSize, position);
            position -= size;
            stream.Position = position;
            await stream.ReadExactlyAsync(block.AsMemory(0, size), cancellationToken);
            var data = new byte[size + carry.Length];
            block.AsSpan(0, size).CopyTo(data);
            carry.CopyTo(data.AsSpan(size));

            var end = data.Length;
            for (var i = data.Length - 1; i >= 0; i--)
            {
                if (data[i] == (byte)'\n')
                {
                    yield return (position + i + 1, Encoding.UTF8.GetString(data, i + 1, end - i - 1));
                    end = i;
                }
            }

            carry = data[..end];
        }

        if (carry.Length > 0)
        {
            yield return (0, Encoding.UTF8.GetString(carry));
        }
    }

    private static byte LastByte(string path, long length)
    {
        using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        reader.Position = length - 1;
        return (byte)reader.ReadByte();
    }
}

/// <summary>A Redis stream (<c>{prefix}:audit</c>) on the policy source's connection: one log for the whole fleet.</summary>
internal sealed class RedisAuditLog(RedisConnection redis, IOptions<PolicySourceOptions> options, ILogger<RedisAuditLog> logger) : IAuditLog
{
    /// <summary>The stream field holding an entry's JSON.</summary>
    internal const string Field = "entry";

    private const long VersionPlaceholder = long.MinValue;
    private const string VersionProperty = "\"policyVersion\":";

    private RedisKey Key => KeyFor(options.Value.Redis.KeyPrefix);

    internal static RedisKey KeyFor(string keyPrefix) => $"{keyPrefix}:audit";

    /// <summary>
    /// The entry's JSON cut where its policy version goes. The Redis source's compare-and-set learns the version only
    /// inside Redis, and adds the entry to the stream in the same script as the change, so that no change is in force
    /// without its entry (an entry added after the script is lost when its reply times out or the process dies).
    /// </summary>
    internal static (string Head, string Tail) CutAtVersion(AuditEntry entry)
    {
        var json = JsonSerializer.Serialize(entry with { PolicyVersion = VersionPlaceholder }, AdminJsonContext.Default.AuditEntry);

        // The first match is the property: a quote inside a string value before it is always escaped.
        var marker = string.Concat(VersionProperty, VersionPlaceholder.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var at = json.IndexOf(marker, StringComparison.Ordinal);
        return at < 0
            ? throw new InvalidOperationException($"An audit entry's JSON has no {VersionProperty} property.")
            : (json[..(at + VersionProperty.Length)], json[(at + marker.Length)..]);
    }

    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var json = JsonSerializer.Serialize(entry, AdminJsonContext.Default.AuditEntry);
        await db.StreamAddAsync(Key, Field, json, maxLength: options.Value.Redis.AuditMaxEntries, useApproximateMaxLength: true);
    }

    public async Task<IReadOnlyList<AuditEntry>> ReadAsync(int top, CancellationToken cancellationToken)
    {
        var db = await redis.DatabaseAsync();
        var stream = await db.StreamRangeAsync(Key, count: top, messageOrder: Order.Descending);
        var entries = new List<AuditEntry>(stream.Length);
        foreach (var message in stream)
        {
            var value = message[Field];
            if (!value.IsNull && AuditEntry.TryParse(Encoding.UTF8.GetString((byte[])value!)) is { } entry)
            {
                entries.Add(entry);
            }
            else
            {
                AdminLog.AuditStreamEntryUnreadable(logger, message.Id.ToString(), Key.ToString());
            }
        }

        return entries;
    }
}
