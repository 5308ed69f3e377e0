using System.Buffers;

namespace XtacGateway.Policy.Model;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> that rewrites a document which is usually already in the written form: while
/// what is written matches the original bytes, only the matched length is kept, and the result is the original
/// itself. From the first difference on, the matched prefix and the rest go to a <see cref="ChunkedBufferWriter"/>.
/// A 50 MB policy that is already compact thus costs no second 50 MB.
/// </summary>
internal sealed class OriginalOrCopyBufferWriter(ReadOnlyMemory<byte> original) : IBufferWriter<byte>, IDisposable
{
    private const int ScratchSize = 64 * 1024;

    private byte[]? _scratch;
    private int _matched;
    private ChunkedBufferWriter? _copy;

    public void Advance(int count)
    {
        if (_copy is not null)
        {
            _copy.Advance(count);
            return;
        }

        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_scratch is null || count > _scratch.Length)
        {
            throw new InvalidOperationException("Cannot advance past the buffer handed out.");
        }

        ReadOnlySpan<byte> written = _scratch.AsSpan(0, count);
        var rest = original.Span[_matched..];
        if (written.Length <= rest.Length && written.SequenceEqual(rest[..written.Length]))
        {
            _matched += count;
            return;
        }

        // The first difference: from here on the result is a copy.
        _copy = new ChunkedBufferWriter();
        _copy.Write(original.Span[.._matched]);
        _copy.Write(written);
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => _copy?.GetMemory(sizeHint) ?? Scratch(sizeHint);

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    /// <summary>What was written: a slice of the original when it matched throughout, otherwise an exact-size copy.</summary>
    public ReadOnlyMemory<byte> WrittenMemory() => _copy is null ? original[.._matched] : _copy.ToArray();

    public void Dispose()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }

        _copy?.Dispose();
    }

    private Memory<byte> Scratch(int sizeHint)
    {
        var needed = Math.Max(sizeHint, ScratchSize);
        if (_scratch is null || _scratch.Length < needed)
        {
            if (_scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(_scratch);
            }

            _scratch = ArrayPool<byte>.Shared.Rent(needed);
        }

        return _scratch;
    }
}
