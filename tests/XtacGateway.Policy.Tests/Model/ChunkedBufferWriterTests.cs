using System.Buffers;
using System.Text.Json;
using XtacGateway.Policy.Model;

namespace XtacGateway.Policy.Tests.Model;

public sealed class ChunkedBufferWriterTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(5_000)]
    public void ToArray_ManyChunks_SameBytesAsAGrowingBuffer(int items)
    {
        var expected = new ArrayBufferWriter<byte>();
        using var chunked = new ChunkedBufferWriter();

        Write(expected, items);
        Write(chunked, items);

        Assert.Equal(expected.WrittenSpan.ToArray(), chunked.ToArray());
    }

    [Fact]
    public void Advance_PastTheSpanHandedOut_Throws()
    {
        using var chunked = new ChunkedBufferWriter();
        var handedOut = chunked.GetSpan(16).Length;

        Assert.Throws<InvalidOperationException>(() => chunked.Advance(handedOut + 1));
    }

    private static void Write(IBufferWriter<byte> buffer, int items)
    {
        using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true });
        writer.WriteStartArray();
        for (var i = 0; i < items; i++)
        {
            writer.WriteStartObject();
            writer.WriteString("tenantId", new Guid(i, 0, 0, new byte[8]));
            writer.WriteString("padding", new string((char)('a' + (i % 26)), i % 300));
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }
}
