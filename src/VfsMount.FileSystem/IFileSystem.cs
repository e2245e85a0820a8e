namespace VfsMount.FileSystem;

/// <summary>
/// The platform-neutral filesystem a host (FUSE today, WinFsp later) binds to the kernel.
/// Paths are absolute within the mount ("/", "/ctx/summary.md"), '/'-separated.
/// Every method returns 0 or a positive Linux errno (see <see cref="Errno"/>); expected
/// failures are return values, never exceptions. Handles are ids owned by the filesystem.
/// </summary>
public interface IFileSystem
{
    int GetAttr(string path, ulong? handle, out FileAttr attr);
    int ReadDir(string path, List<DirEntry> entries);

    /// <summary>Opens an existing file; the result says how the kernel may cache it.</summary>
    int Open(string path, OpenFlags flags, Caller caller, out OpenResult result);
    int Create(string path, uint mode, OpenFlags flags, Caller caller, out OpenResult result);

    /// <summary>Reads up to buffer.Length bytes at offset; 0 bytes read is end of file.</summary>
    int Read(ulong handle, Span<byte> buffer, long offset, out int bytesRead);

    /// <summary>Returns 0 only once the write's promise holds (for logs: its lines are durable).</summary>
    int Write(ulong handle, ReadOnlySpan<byte> data, long offset, out int bytesWritten);

    /// <summary>Called on each close(2) of a descriptor; its errno is what close returns.</summary>
    int Flush(ulong handle);
    int Release(ulong handle);
    int Fsync(ulong handle, bool dataOnly);

    int Truncate(string path, ulong? handle, long size);
    int Unlink(string path);

    /// <summary>
    /// Mode: the caller's umask already applied. What is made belongs to the caller (SPEC §2.5).
    /// The caller's working directory goes into a new context's registry record (chibi 0.10's cwd).
    /// </summary>
    int Mkdir(string path, uint mode, Caller caller);
    /// <summary>Caller: for a context, whose directory's files go with it (default: root).</summary>
    int Rmdir(string path, Caller caller = default);
    int Rename(string from, string to, RenameFlags flags);
    int Symlink(string target, string linkPath, Caller caller);

    /// <summary>A FIFO, socket or device node (scratch only); rdev as <see cref="FileAttr.Rdev"/>.</summary>
    int Mknod(string path, FileKind kind, uint mode, uint rdev, Caller caller);

    /// <summary>A hard link (scratch names within one context).</summary>
    int Link(string existingPath, string newPath);
    int ReadLink(string path, out string target);
    int Chmod(string path, uint mode);

    /// <summary>chown; null leaves that id unchanged. The kernel has checked the caller may.</summary>
    int Chown(string path, uint? uid, uint? gid);

    /// <summary>Times in nanoseconds since the epoch; null leaves that time unchanged.</summary>
    int SetTimes(string path, long? accessNs, long? modifyNs);
    int StatFs(string path, out FsStats stats);
}

/// <summary>Who issued a request: the store records the writer's login name.</summary>
public readonly record struct Caller(uint Uid, uint Gid, int Pid);

public enum FileKind { Directory, Regular, Symlink, Fifo, Socket, CharDevice, BlockDevice }

public struct FileAttr
{
    public FileKind Kind;
    /// <summary>Permission, set-id and sticky bits (07777); the host adds the file type.</summary>
    public uint Permissions;
    public long Size;
    public long AccessNs;
    public long ModifyNs;
    public long ChangeNs;
    public uint Links;
    public uint Uid;
    public uint Gid;

    /// <summary>A device node's number: 12 bits of major, 20 of minor.</summary>
    public uint Rdev;

    /// <summary>
    /// The file behind the node: its store (device, inode), so a host can give hard links one
    /// node and a replaced file a new one. Default for a virtual file: the host keys it by path.
    /// </summary>
    public NodeIdentity Identity;

    /// <summary>A log: its attributes change with every append, by anyone, and are never cached.</summary>
    public bool IsLog;

    /// <summary>
    /// Size and times from a writer's staged copy (SPEC §2.2): they change with its every write,
    /// and a reader's size must be asked again, so the kernel must not cache them.
    /// </summary>
    public bool Staged;
}

/// <summary>
/// Where a node's bytes live in the store; (0, 0) for a virtual file. Birth (ns, 0 where the
/// filesystem keeps none) tells a file from a later one that was given its freed inode number.
/// </summary>
public readonly record struct NodeIdentity(ulong Device, ulong Inode, long Birth)
{
    public bool IsVirtual => Device == 0 && Inode == 0;
}

public readonly record struct DirEntry(string Name, FileKind Kind);

/// <summary>
/// DirectIo: the kernel must send every read and write here (logs, staged documents).
/// KeepCache: pages cached from earlier opens are still valid.
/// NoFlush: the handle's flush does nothing, so close(2) need not ask for it.
/// </summary>
public readonly record struct OpenResult(ulong Handle, bool DirectIo, bool KeepCache, bool NoFlush = false);

[Flags]
public enum OpenFlags
{
    ReadOnly = 0,
    Write = 1,
    ReadWrite = 2,
    Append = 4,
    Truncate = 8,
    Create = 16,
    Exclusive = 32,
}

[Flags]
public enum RenameFlags
{
    None = 0,
    NoReplace = 1,
    Exchange = 2,
}

public struct FsStats
{
    public ulong BlockSize;
    public ulong Blocks;
    public ulong BlocksFree;
    public ulong BlocksAvailable;
    public ulong Files;
    public ulong FilesFree;
    public ulong NameMax;
}

/// <summary>Linux errno values; other hosts translate them.</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EMFILE = 24;
    public const int EFBIG = 27;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ERANGE = 34;
    public const int ENAMETOOLONG = 36;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int ENODATA = 61;
    public const int EOPNOTSUPP = 95;
    public const int ESTALE = 116;
}
