using System.Text;
using XtacGateway.Admin;

namespace XtacGateway.Tests.Admin;

public sealed class FileAuditLogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("xtac-audit-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64 * 1024)]
    public async Task LinesFromEndAsync_AnyBlockSize_EveryLineLastFirstWithItsOffset(int blockSize)
    {
        // Lines longer and shorter than a block, multi-byte characters across block edges, an empty line, a torn end.
        string[] lines = ["first", "", "Zürich Genève 東京 " + new string('x', 20), "{\"id\":\"3\"}", "torn without its end"];
        var path = Path.Combine(_directory, "audit.jsonl");
        await File.WriteAllTextAsync(path, string.Join('\n', lines), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        var bytes = await File.ReadAllBytesAsync(path);

        var read = new List<(long Offset, string Line)>();
        await using var stream = File.OpenRead(path);
        await foreach (var line in FileAuditLog.LinesFromEndAsync(stream, CancellationToken.None, blockSize))
        {
            read.Add(line);
        }

        Assert.Equal(lines.Reverse(), read.Select(r => r.Line));
        Assert.All(read, r => Assert.StartsWith(r.Line, Encoding.UTF8.GetString(bytes, (int)r.Offset, bytes.Length - (int)r.Offset), StringComparison.Ordinal));
    }
}
