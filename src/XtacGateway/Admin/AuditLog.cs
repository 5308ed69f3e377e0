using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using XtacGateway.Policies;
using XtacGateway.Policy.Validation;

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

internal sealed record AuditEntryList(IReadOnlyList<AuditEntry> Value)
{
    [JsonPropertyName("@odata.nextLink")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? NextLink { get; init; }
}

/// <summary>
/// Entries, newest first, and the position the next (older) page reads from: null when no older entry is left. A
/// position is the log's own (a stream ID, a byte offset); clients see it only inside an opaque <c>$skiptoken</c>.
/// </summary>
internal sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, string? Next);

/// <summary>A <c>$skiptoken</c> naming a position that is not one of this log's (<see cref="IsStale"/> false), or no longer is.</summary>
internal sealed class AuditPositionException(string message, bool isStale) : Exception(message)
{
    /// <summary>The position was the log's once, but the log was moved or replaced since.</summary>
    public bool IsStale { get; } = isStale;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    MaxDepth = PolicyParser.CarrierMaxDepth)]
[JsonSerializable(typeof(AuditEntry))]
[JsonSerializable(typeof(AuditEntryList))]
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;

/// <summary>Where audit entries go: a Redis stream with the Redis source, else a local append-only file.</summary>
internal interface IAuditLog
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// At most <paramref name="top"/> entries, newest first: the newest, or those older than <paramref name="before"/>
    /// (a page's <see cref="AuditPage.Next"/>). Throws <see cref="AuditPositionException"/> for a position not the log's.
    /// </summary>
    Task<AuditPage> ReadAsync(int top, string? before, CancellationToken cancellationToken);
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

    /// <remarks>
    /// A position is <c>offset:id</c>, the byte offset and ID of the previous page's oldest entry: offsets alone cannot
    /// tell a file moved aside and started again, whose lines may well fall at the same offsets.
    /// </remarks>
    public async Task<AuditPage> ReadAsync(int top, string? before, CancellationToken cancellationToken)
    {
        (long Offset, string Id)? start = null;
        if (before is not null)
        {
            start = SkipToken.TrySplit(before, out var offset, out var id)
                ? (offset, id)
                : throw new AuditPositionException($"'{before}' is not a position in the audit file.", isStale: false);
        }

        if (!File.Exists(Path))
        {
            return start is null ? new AuditPage([], null) : throw Replaced();
        }

        var entries = new List<AuditEntry>(Math.Min(top, 1024));
        string? next = null;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            // One open for the check and the read: a file moved or truncated between two opens would be read as another.
            await using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, FileOptions.Asynchronous);
            if (start is { } from && (await ReadLineAtAsync(stream, from.Offset, cancellationToken) is not { } held || AuditEntry.TryParse(held)?.Id != from.Id))
            {
                throw Replaced();
            }

            // From the end back, only as far as the newest entries asked for: the log never rotates, so reading it
            // whole would cost memory in proportion to its whole history on every read.
            var last = string.Empty;
            await foreach (var (offset, line) in LinesFromEndAsync(stream, cancellationToken, endOffset: start?.Offset))
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                if (AuditEntry.TryParse(line) is { } entry)
                {
                    if (entries.Count == top)
                    {
                        // An older entry is there to be read: the next page starts after this page's oldest.
                        next = last;
                        break;
                    }

                    entries.Add(entry);
                    last = SkipToken.Join(offset, entry.Id);
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

        return new AuditPage(entries, next);

        // The path stays in the log's configuration: a reader of the audit need not learn the server's file system.
        static AuditPositionException Replaced()
            => new("The audit file was moved or replaced since this page's link was given.", isStale: true);
    }

    /// <summary>The line starting at byte <paramref name="offset"/>, or null when the file is not that long.</summary>
    private static async Task<string?> ReadLineAtAsync(FileStream stream, long offset, CancellationToken cancellationToken)
    {
        if (offset >= stream.Length)
        {
            return null;
        }

        stream.Position = offset;
        var line = new MemoryStream();
        var block = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(block, cancellationToken)) > 0)
        {
            var newline = block.AsSpan(0, read).IndexOf((byte)'\n');
            line.Write(block, 0, newline < 0 ? read : newline);
            if (newline >= 0)
            {
                break;
            }
        }

        return Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length);
    }

    /// <summary>
    /// The file's lines before byte <paramref name="endOffset"/> (the whole file when null), last first, each with the
    /// byte offset it starts at; read in blocks from the end.
    /// </summary>
    internal static async IAsyncEnumerable<(long Offset, string Line)> LinesFromEndAsync(
        FileStream stream, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, int blockSize = 64 * 1024, long? endOffset = null)
    {
        var block = new byte[blockSize];
        var position = Math.Min(endOffset ?? long.MaxValue, stream.Length);

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

    public async Task<AuditPage> ReadAsync(int top, string? before, CancellationToken cancellationToken)
    {
        RedisValue newest = "+";
        if (before is not null)
        {
            if (AuditStreamId.Parse(before) is not { } previousPageEnd)
            {
                throw new AuditPositionException($"'{before}' is not an entry ID of the audit stream.", isStale: false);
            }

            // The ID just below the previous page's oldest entry: Redis 5 has no exclusive range ('(' came with 6.2).
            if (Below(previousPageEnd) is not { } below)
            {
                return new AuditPage([], null);
            }

            newest = below;
        }

        // One more than asked for tells whether an older page follows.
        var db = await redis.DatabaseAsync();
        var stream = await db.StreamRangeAsync(Key, minId: "-", maxId: newest, count: top + 1, messageOrder: Order.Descending);
        var read = Math.Min(stream.Length, top);
        var entries = new List<AuditEntry>(read);
        foreach (var message in stream.AsSpan(0, read))
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

        return new AuditPage(entries, stream.Length > top ? stream[top - 1].Id.ToString() : null);
    }

    /// <summary>The greatest stream ID below <paramref name="id"/> (sequences run to 2^64 - 1), or null below 0-0.</summary>
    private static string? Below(AuditStreamId id)
        => id.Sequence > 0 ? $"{id.Milliseconds}-{id.Sequence - 1}"
            : id.Milliseconds > 0 ? $"{id.Milliseconds - 1}-{ulong.MaxValue}"
            : null;
}
