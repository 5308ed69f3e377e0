namespace XtacGateway.Policies;

/// <summary>
/// Replaces a file whole: written beside it, flushed to disk, then renamed over it, so that a crash at any point
/// leaves the old file or the new one, never a part of either.
/// </summary>
internal static class AtomicFile
{
    public static void Replace(string path, Action<Stream> write)
    {
        // Random, not the process ID: containers sharing a volume all run as process 1.
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                if (!OperatingSystem.IsWindows() && File.Exists(path))
                {
                    // The replacement keeps the permissions someone chose for the file (0600 for a policy, say).
                    File.SetUnixFileMode(stream.SafeFileHandle, File.GetUnixFileMode(path));
                }

                write(stream);

                // Before the rename: otherwise a crash soon after it can leave the name on an empty or short file
                // (XFS, or ext4 mounted without auto_da_alloc), and the rename is the commit.
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    /// <summary>Removes a temp file left by a failed or cancelled write; gone already after a rename.</summary>
    private static void DeleteQuietly(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The write's own failure, if any, is what the caller needs to see.
        }
    }
}
