using System.Security.Cryptography;

namespace XtacGateway.Policies;

/// <summary>Passes writes on to a stream and hashes them on the way, so a large file is hashed without a copy of it.</summary>
internal sealed class Sha256WriteStream(Stream destination) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>The SHA-256 of everything written so far.</summary>
    public byte[] Hash() => _hash.GetCurrentHash();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        destination.Write(buffer);
    }

    public override void Flush() => destination.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // The destination is the caller's: it is flushed and closed by whoever opened it.
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
