using System.Text;
using VfsMount.FileSystem;
using VfsMount.Store;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.View;

/// <summary>
/// A store in a temp directory and the view over it as the daemon builds it (the status view
/// wrapping <see cref="ContextFileSystem"/>), with no kernel in between. The one place view
/// tests construct the view and call the operations whose signatures carry the caller (create,
/// mkdir, symlink), so a change of those signatures is adapted here alone. The helpers do what
/// a program's syscall makes the kernel send (close(2) is flush then release).
/// </summary>
internal sealed class ViewFixture : IDisposable
{
    /// <summary>This process, as the kernel would name the caller.</summary>
    public static readonly Caller Me = CurrentCaller();

    private readonly StringWriter _log = new();

    public ViewFixture(StorageOptions? options = null, MountLimits? limits = null, Action<string>? prepareStore = null)
    {
        Root = Directory.CreateTempSubdirectory("vfsmount-view-").FullName;
        string storeDir = Path.Combine(Root, "store");
        Directory.CreateDirectory(storeDir);
        prepareStore?.Invoke(storeDir);   // a chibi 0.10 layout, a .vfs/ tree: before the view first looks
        Store = new ChibiStore(storeDir, options);
        View = new ContextFileSystem(Store, TextWriter.Synchronized(_log), limits);
        Fs = new StatusView(View, "/mnt");
    }

    public string Root { get; }
    public ChibiStore Store { get; }
    public ContextFileSystem View { get; }

    /// <summary>What the host calls: the whole view, .vfsmount/ included.</summary>
    public IFileSystem Fs { get; }

    /// <summary>Everything the view logged so far (one line per refusal).</summary>
    public string Log => _log.ToString();

    /// <summary>A path in the store: StorePath("contexts", "c", "summary.md").</summary>
    public string StorePath(params string[] parts) => Path.Combine([Store.Root, .. parts]);

    public string ContextDir(string context) => Store.ContextDir(context);

    // ---- the operations that take the caller -------------------------------------------------

    public int Mkdir(string path, uint mode = 0x1ED) => Fs.Mkdir(path, mode, Me);

    public int Create(string path, OpenFlags flags, out ulong handle, uint mode = 0x1A4)
    {
        int errno = Fs.Create(path, mode, flags, Me, out var result);
        handle = result.Handle;
        return errno;
    }

    /// <summary>open(2) with O_CREAT of a name that does not exist; fails the test if it cannot.</summary>
    public ulong Created(string path, OpenFlags flags, uint mode = 0x1A4)
    {
        Assert.Equal(0, Create(path, flags, out ulong handle, mode));
        return handle;
    }

    public int Symlink(string target, string linkPath) => Fs.Symlink(target, linkPath, Me);

    // ---- syscalls as the kernel sends them ---------------------------------------------------

    public int TryOpen(string path, OpenFlags flags, out ulong handle)
    {
        int errno = Fs.Open(path, flags, Me, out var result);
        handle = result.Handle;
        return errno;
    }

    public ulong Open(string path, OpenFlags flags)
    {
        Assert.Equal(0, TryOpen(path, flags, out ulong handle));
        return handle;
    }

    /// <summary>The context, made as by mkdir(2); fails the test if it cannot be.</summary>
    public void Context(string name) => Assert.Equal(0, Mkdir("/" + name));

    public int Write(ulong handle, string text, long offset) => Write(handle, Encoding.UTF8.GetBytes(text), offset);

    public int Write(ulong handle, byte[] data, long offset)
    {
        int errno = Fs.Write(handle, data, offset, out int written);
        if (errno == 0) Assert.Equal(data.Length, written);
        return errno;
    }

    /// <summary>close(2): the flush's errno is what close returns; the release follows whatever it was.</summary>
    public int Close(ulong handle)
    {
        int errno = Fs.Flush(handle);
        Assert.Equal(0, Fs.Release(handle));
        return errno;
    }

    /// <summary>Reads the handle from 0 until a read returns no bytes.</summary>
    public byte[] ReadAll(ulong handle)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 << 10];
        while (true)
        {
            Assert.Equal(0, Fs.Read(handle, buffer, all.Length, out int n));
            if (n == 0) return all.ToArray();
            all.Write(buffer, 0, n);
        }
    }

    /// <summary>`cat PATH`: open, read to the end, close; null when the open fails.</summary>
    public byte[]? TryRead(string path)
    {
        if (TryOpen(path, OpenFlags.ReadOnly, out ulong h) != 0) return null;
        try
        {
            return ReadAll(h);
        }
        finally
        {
            Assert.Equal(0, Close(h));
        }
    }

    public byte[] Read(string path) => TryRead(path) ?? throw new Xunit.Sdk.XunitException($"cannot open {path}");

    public string Cat(string path) => Encoding.UTF8.GetString(Read(path));

    /// <summary>`printf TEXT > PATH`: open O_WRONLY|O_CREAT|O_TRUNC, one write, close; the first errno.</summary>
    public int Save(string path, string text)
    {
        int errno = GetAttr(path, out _) == 0
            ? TryOpen(path, OpenFlags.Write | OpenFlags.Truncate, out ulong h)
            : Create(path, OpenFlags.Write | OpenFlags.Truncate, out h);
        if (errno != 0) return errno;
        int written = Write(h, text, 0);
        int closed = Close(h);
        return written != 0 ? written : closed;
    }

    /// <summary>`printf TEXT >> PATH` on a log: O_WRONLY|O_APPEND, one write, close; the first errno.</summary>
    public int Append(string path, string text)
    {
        int errno = TryOpen(path, OpenFlags.Write | OpenFlags.Append, out ulong h);
        if (errno != 0) return errno;
        int written = Write(h, text, 0);
        int closed = Close(h);
        return written != 0 ? written : closed;
    }

    public int GetAttr(string path, out FileAttr attr) => Fs.GetAttr(path, null, out attr);

    public long Size(string path)
    {
        Assert.Equal(0, GetAttr(path, out var attr));
        return attr.Size;
    }

    /// <summary>The names `ls -a` shows, sorted; fails the test if the directory cannot be listed.</summary>
    public List<string> Ls(string path)
    {
        var entries = new List<DirEntry>();
        Assert.Equal(0, Fs.ReadDir(path, entries));
        return entries.Select(e => e.Name).Order(StringComparer.Ordinal).ToList();
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The effective uid and gid of this process, from /proc (no syscall of our own).</summary>
    private static Caller CurrentCaller()
    {
        uint Id(string field) => uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field, StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
        return new Caller(Id("Uid:"), Id("Gid:"), Environment.ProcessId);
    }
}
