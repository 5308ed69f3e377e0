using System.Buffers;

namespace XtacGateway.Policy.Model;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over pooled fixed-size chunks, copied once into an array of the exact size.
/// A growing buffer leaves a copy of every smaller size behind: for a 30 MB policy that is 60 MB of large-object
/// garbage, which shows up as the process's peak memory.
/// </summary>
internal sealed class ChunkedBufferWriter : IBufferWriter<byte>, IDisposable
{
    private const int ChunkSize = 64 * 1024;

    private readonly List<byte[]> _chunks = [];
    private readonly List<int> _chunkLengths = [];
    private int _usedInLast = ChunkSize;
    private long _length;

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_chunks.Count == 0 || _usedInLast + count > _chunks[^1].Length)
        {
            throw new InvalidOperationException("Cannot advance past the buffer handed out.");
        }

        _usedInLast += count;
        _length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => Current(sizeHint).AsMemory(_usedInLast);

    public Span<byte> GetSpan(int sizeHint = 0) => Current(sizeHint).AsSpan(_usedInLast);

    public byte[] ToArray()
    {
        var result = GC.AllocateUninitializedArray<byte>(checked((int)_length));
        var offset = 0;
        for (var i = 0; i < _chunks.Count; i++)
        {
            var used = i == _chunks.Count - 1 ? _usedInLast : _chunkLengths[i];
            _chunks[i].AsSpan(0, used).CopyTo(result.AsSpan(offset));
            offset += used;
        }

        return result;
    }

    public void Dispose()
    {
        foreach (var chunk in _chunks)
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        _chunks.Clear();
        _chunkLengths.Clear();
    }

    private byte[] Current(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (_chunks.Count == 0 || _chunks[^1].Length - _usedInLast < needed)
        {
            if (_chunks.Count > 0)
            {
                _chunkLengths.Add(_usedInLast);
            }

            _chunks.Add(ArrayPool<byte>.Shared.Rent(Math.Max(ChunkSize, needed)));
            _usedInLast = 0;
        }

        return _chunks[^1];
    }
}
