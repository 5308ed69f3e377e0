using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using XtacGateway.Policy.Model;

namespace XtacGateway.Policy.Tests.Model;

public sealed class OriginalOrCopyBufferWriterTests
{
    [Fact]
    public void WrittenMemory_SameBytesAsOriginal_IsTheOriginalItself()
    {
        var original = Json(5_000);
        using var buffer = new OriginalOrCopyBufferWriter(original);

        Write(buffer, 5_000);
        var written = buffer.WrittenMemory();

        Assert.True(MemoryMarshal.TryGetArray(written, out var segment));
        Assert.Same(original, segment.Array);
        Assert.Equal(original.Length, written.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(150_000)]
    public void WrittenMemory_DifferenceAtSomePosition_IsACopyOfWhatWasWritten(int position)
    {
        var expected = Json(5_000);
        var original = (byte[])expected.Clone();
        original[position] = (byte)' ';
        using var buffer = new OriginalOrCopyBufferWriter(original);

        Write(buffer, 5_000);
        var written = buffer.WrittenMemory();

        Assert.True(MemoryMarshal.TryGetArray(written, out var segment));
        Assert.NotSame(original, segment.Array);
        Assert.Equal(expected, written.ToArray());
    }

    [Fact]
    public void WrittenMemory_OriginalShorter_IsACopyOfWhatWasWritten()
    {
        var expected = Json(5_000);
        using var buffer = new OriginalOrCopyBufferWriter(expected.AsMemory(0, expected.Length - 10));

        Write(buffer, 5_000);

        Assert.Equal(expected, buffer.WrittenMemory().ToArray());
    }

    private static byte[] Json(int items)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        Write(buffer, items);
        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(System.Buffers.IBufferWriter<byte> buffer, int items)
    {
        using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartArray();
        for (var i = 0; i < items; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("tenantId", new Guid(i, 0, 0, new byte[8]));
            writer.WriteString("note", Encoding.UTF8.GetString(new byte[i % 7]));
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }
}
