using System.Runtime.InteropServices;
using System.Text;
using VfsMount.FileSystem;

namespace VfsMount.Fuse;

/// <summary>Settings of one FUSE mount.</summary>
public sealed class FuseHostOptions
{
    /// <summary>
    /// Extra mount options, each passed as <c>-o</c>: "allow_other", "ro", "default_permissions",
    /// "debug", .... "fsname=vfsmount" and "subtype=vfsmount" are always set first (the mount
    /// shows as <c>vfsmount on MNT type fuse.vfsmount</c>); an fsname=/subtype= here wins.
    /// Without "default_permissions" the kernel checks no mode bits and the view decides.
    /// </summary>
    public IReadOnlyList<string> MountOptions { get; init; } = [];

    /// <summary>Most libfuse worker threads serving requests at once.</summary>
    public int MaxThreads { get; init; } = 10;

    /// <summary>Receives one line per host-level problem; default: standard error.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// Binds an <see cref="IFileSystem"/> to the kernel through libfuse (native/vfsfuse.c):
/// mount, serve, exit, unmount. Nothing else — all file semantics live in the view.
/// <para>
/// Lifecycle: <see cref="Mount"/>, then <see cref="Run"/> on a thread of its own (it blocks
/// until <see cref="RequestExit"/> or an external unmount, then unmounts), then
/// <see cref="Dispose"/>. Callbacks arrive on libfuse's threads, concurrently, and may start
/// as soon as Mount returns. Several hosts may live in one process.
/// </para>
/// <para>
/// Signals: libfuse installs no handlers for SIGINT/SIGTERM/SIGHUP; the program registers
/// them (PosixSignalRegistration) and calls <see cref="RequestExit"/>. The native side uses
/// SIGURG, with a no-op handler, to wake the loop thread.
/// </para>
/// </summary>
public sealed class FuseHost : IDisposable
{

    private readonly FuseHostOptions _options;
    private readonly Action<string> _log;
    private readonly Lock _lock = new();
    private FuseSessionHandle? _session;
    private bool _disposed;

    public FuseHost(IFileSystem fileSystem, string mountPoint, FuseHostOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        FileSystem = fileSystem;
        MountPoint = Path.GetFullPath(mountPoint);
        _options = options ?? new FuseHostOptions();
        _log = _options.Log ?? (line => Console.Error.WriteLine($"vfsmount: {line}"));
        Nodes = new NodeTable(what => _log($"INTERNAL ERROR: {what}"));
        Notifier = new Notifier(Nodes, () => _session, _log, _options.MaxThreads);
    }

    /// <summary>The nodes the kernel holds (for tests: forget keeps it bounded).</summary>
    public int NodeCount => Nodes.Count;

    internal NodeTable Nodes { get; }
    internal Notifier Notifier { get; }

    public IFileSystem FileSystem { get; }

    /// <summary>Absolute path of the mount point.</summary>
    public string MountPoint { get; }

    internal void Log(string line) => _log(line);

    /// <summary>
    /// Mounts the filesystem; requests are served once <see cref="Run"/> runs (until then a
    /// program touching the mount waits). Returns 0, or a positive errno with a one-line
    /// <paramref name="error"/> saying why (no /dev/fuse, mount point missing or busy, bad
    /// option, libvfsfuse.so or libfuse3 missing, ...).
    /// </summary>
    public unsafe int Mount(out string? error)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_session != null)
                throw new InvalidOperationException("already mounted");
            error = null;

            try
            {
                if (NativeMethods.vfs_abi_version() != NativeMethods.AbiVersion || !StructSizeChecks.Ok())
                {
                    error = "libvfsfuse.so does not match this build of vfsmount (rebuild)";
                    return Errno.EINVAL;
                }
            }
            catch (DllNotFoundException e)
            {
                error = $"cannot load libvfsfuse.so or libfuse3 ({e.Message}); install fuse3";
                return Errno.ENOENT;
            }

            var state = GCHandle.Alloc(this);
            var ops = Bridge.Table();
            var strings = new List<nint>();
            try
            {
                nint mountPoint = Marshal.StringToCoTaskMemUTF8(MountPoint);
                strings.Add(mountPoint);
                var options = new nint[_options.MountOptions.Count + 1];
                for (int i = 0; i < _options.MountOptions.Count; i++)
                {
                    options[i] = Marshal.StringToCoTaskMemUTF8(_options.MountOptions[i]);
                    strings.Add(options[i]);
                }
                byte* errbuf = stackalloc byte[512];
                int r;
                nint session;
                fixed (nint* opts = options)
                    r = NativeMethods.vfs_mount((byte*)mountPoint, (byte**)opts, &ops, GCHandle.ToIntPtr(state),
                        out session, errbuf, 512);
                if (r != 0)
                {
                    error = Marshal.PtrToStringUTF8((nint)errbuf);
                    if (string.IsNullOrEmpty(error))
                        error = $"mount failed (errno {-r})";
                    state.Free();
                    return -r;
                }
                _session = new FuseSessionHandle(session, state);
                return 0;
            }
            catch
            {
                if (_session == null && state.IsAllocated)
                    state.Free();
                throw;
            }
            finally
            {
                foreach (nint s in strings)
                    Marshal.FreeCoTaskMem(s);
            }
        }
    }

    /// <summary>
    /// Serves requests until <see cref="RequestExit"/> or an external unmount, then unmounts
    /// (files still open then get ENOTCONN). Blocks the calling thread. Returns 0 on a clean
    /// exit, else a positive errno. Call once, after a successful <see cref="Mount"/>.
    /// </summary>
    public int Run()
    {
        FuseSessionHandle session;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            session = _session ?? throw new InvalidOperationException("not mounted");
        }
        int r = NativeMethods.vfs_loop(session, _options.MaxThreads);
        return r == 0 ? 0 : -r;
    }

    /// <summary>
    /// Asks <see cref="Run"/> to return. Thread-safe, idempotent, does not block; works while
    /// files are open and from a signal-handler callback. Requests being served finish first.
    /// </summary>
    public void RequestExit()
    {
        FuseSessionHandle? session;
        lock (_lock)
            session = _session;
        if (session is { IsClosed: false })
        {
            try
            {
                NativeMethods.vfs_exit(session);
            }
            catch (ObjectDisposedException)
            {
                // Disposed concurrently: nothing left to stop.
            }
        }
    }

    /// <summary>
    /// The content or identity behind <paramref name="path"/> changed (a commit, state.json
    /// rewritten): the kernel drops what it caches for it before the request that changed it
    /// replies (see <see cref="Fuse.Notifier"/>). From any thread; ignored when not mounted or
    /// when the kernel caches nothing for the path.
    /// </summary>
    public void InvalidatePath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Notifier.Changed(path);
    }

    /// <summary>
    /// Another program changed what is behind <paramref name="path"/> in the store: its cached
    /// attributes are dropped (a lock-free notification, safe from any thread at any time).
    /// </summary>
    public void StoreChanged(string path) => Notifier.AttributesOnly(path);

    /// <summary>
    /// Requests exit if running, and unmounts and frees the
    /// session once <see cref="Run"/> has returned (the session's reference count defers the
    /// free until then).
    /// </summary>
    public void Dispose()
    {
        FuseSessionHandle? session;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            session = _session;
        }
        RequestExit();
        session?.Dispose();
        Notifier.Dispose();
    }
}
