using System.Runtime.InteropServices;

namespace VfsMount.Cli;

/// <summary>The few libc calls daemonizing needs that .NET does not offer.</summary>
internal static partial class Posix
{
    public const int O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_APPEND = 0x400, O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>Points fd at path (opened with flags), as a shell's `n&gt;path` does; throws when it cannot.</summary>
    public static void Redirect(int fd, string path, int flags)
    {
        int opened = Open(path, flags | O_CLOEXEC, 0x1A4);
        if (opened < 0) throw new IOException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        int r = Dup2(opened, fd);   // dup2 clears FD_CLOEXEC on fd: it stays open across exec, as stdio should
        int errno = Marshal.GetLastPInvokeError();
        Close(opened);
        if (r < 0) throw new IOException($"cannot redirect fd {fd} to {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
