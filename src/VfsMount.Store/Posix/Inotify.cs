using System.Runtime.InteropServices;

namespace VfsMount.Store.Posix;

/// <summary>
/// Linux inotify on directories of the store: one thread reads events and hands each to a
/// callback as (watched directory, name, mask). Events can be lost when the queue overflows
/// (IN_Q_OVERFLOW is reported with an empty name): consumers must treat that as "anything
/// may have changed".
/// </summary>
public sealed partial class Inotify : IDisposable
{
    public const uint InModify = 0x2, InAttrib = 0x4, InCloseWrite = 0x8, InMovedFrom = 0x40, InMovedTo = 0x80;
    public const uint InCreate = 0x100, InDelete = 0x200, InDeleteSelf = 0x400, InIsDir = 0x40000000, InQOverflow = 0x4000;
    public const uint InIgnored = 0x8000, InOnlyDir = 0x1000000, InDontFollow = 0x2000000;

    /// <summary>
    /// What the store watches: names created, removed, moved, written or re-permissioned (not
    /// IN_CLOSE_WRITE: every append already gave IN_MODIFY, and a read-write open without a
    /// write would give it alone).
    /// </summary>
    public const uint Changes = InModify | InAttrib | InMovedFrom | InMovedTo | InCreate | InDelete;

    private const int IN_NONBLOCK = 0x800, IN_CLOEXEC = 0x80000;
    private const short POLLIN = 1;

    private readonly int _fd;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, string> _dirs = [];
    private readonly Dictionary<string, int> _watches = new(StringComparer.Ordinal);
    private readonly Action<string, string, uint> _onEvent;
    private readonly Thread _reader;
    private volatile bool _stopping;

    public Inotify(Action<string, string, uint> onEvent)
    {
        _onEvent = onEvent;
        _fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (_fd < 0) throw new PosixException(Marshal.GetLastPInvokeError(), "inotify_init1");
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "vfsmount-inotify" };
        _reader.Start();
    }

    /// <summary>Watches a directory (never through a symlink); 0 or errno (ENOENT: gone already).</summary>
    public int Watch(string directory)
    {
        lock (_lock)
        {
            if (_watches.ContainsKey(directory)) return 0;
            int wd = inotify_add_watch(_fd, directory, Changes | InOnlyDir | InDontFollow);
            if (wd < 0) return Marshal.GetLastPInvokeError();
            _dirs[wd] = directory;
            _watches[directory] = wd;
            return 0;
        }
    }

    private unsafe void ReadLoop()
    {
        var buffer = new byte[64 * 1024];
        var poll = new PollFd { Fd = _fd, Events = POLLIN };
        while (!_stopping)
        {
            // A timeout, so Dispose is seen: closing an fd does not wake a thread blocked on it.
            if (Poll(&poll, 1, 250) <= 0) continue;
            nint n;
            fixed (byte* p = buffer) n = read(_fd, p, buffer.Length);
            if (n <= 0) continue;
            for (int at = 0; at + 16 <= n;)
            {
                int wd = BitConverter.ToInt32(buffer, at);
                uint mask = BitConverter.ToUInt32(buffer, at + 4);
                int len = BitConverter.ToInt32(buffer, at + 12);
                string name = len > 0 ? System.Text.Encoding.UTF8.GetString(buffer, at + 16, len).TrimEnd('\0') : "";
                at += 16 + len;
                string? dir;
                lock (_lock)
                {
                    _dirs.TryGetValue(wd, out dir);
                    if ((mask & InIgnored) != 0 && dir is not null)
                    {
                        _dirs.Remove(wd);
                        _watches.Remove(dir);
                    }
                }
                if ((mask & InQOverflow) != 0) dir = "";
                if (dir is null) continue;
                try
                {
                    _onEvent(dir, name, mask);
                }
                catch (Exception)
                {
                    // A failed reaction leaves a cache to its timeout; the watch goes on.
                }
            }
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _reader.Join(TimeSpan.FromSeconds(2));
        close(_fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
