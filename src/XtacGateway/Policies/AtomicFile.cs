using System.Runtime.InteropServices;

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
            FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        finally
        {
            DeleteQuietly(temp);
        }
    }

    /// <summary>
    /// Makes a rename or a new file's name durable. A name lives in the directory, not in the file, so until the
    /// directory reaches the disk a power cut can bring back the old file after the change was answered and audited. .NET opens
    /// no directory as a file (it refuses directories), hence the system calls; CoreCLR maps "libc" to glibc's libc.so.6.
    /// </summary>
    internal static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            // Windows opens no directory for a flush this way; the gateway ships for Linux. (On macOS fsync reaches the
            // drive's cache only: F_FULLFSYNC is not asked for.)
            return;
        }

        var descriptor = Posix.Open(directory, OperatingSystem.IsLinux() ? Posix.ReadOnly | Posix.LinuxCloseOnExec : Posix.ReadOnly);
        if (descriptor < 0)
        {
            // The file is replaced already and readers see it; a directory that cannot be opened for the flush (no
            // read permission on it) only loses the guarantee against a power cut, which is no reason to fail the write.
            return;
        }

        try
        {
            // EINVAL from file systems without directory sync (some FUSE and network mounts): nothing more to do.
            _ = Posix.Fsync(descriptor);
        }
        finally
        {
            _ = Posix.Close(descriptor);
        }
    }

    private static class Posix
    {
        public const int ReadOnly = 0;

        /// <summary>O_CLOEXEC on Linux (x64 and Arm64 alike): a process started meanwhile does not inherit the handle.</summary>
        public const int LinuxCloseOnExec = 0x80000;

        // Failures are not read: the flush is given up quietly (see the callers), so errno is not asked for.
        [DllImport("libc", EntryPoint = "open")]
        public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "fsync")]
        public static extern int Fsync(int descriptor);

        [DllImport("libc", EntryPoint = "close")]
        public static extern int Close(int descriptor);
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
