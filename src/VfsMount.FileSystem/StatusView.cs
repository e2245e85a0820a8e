using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using VfsMount.FileSystem.Handles;
using VfsMount.Store.Posix;

namespace VfsMount.FileSystem;

/// <summary>
/// MNT/.vfsmount/ (SPEC §2), read-only and generated: status.json (<see cref="StatusReport"/>)
/// and quarantine/, one file per refused item named by its time, context and file, whose
/// content is the refused bytes. Wraps the view and answers every path under /.vfsmount itself;
/// everything else goes to the view unchanged. Its handle ids have <see cref="OwnHandle"/> set.
/// </summary>
public sealed partial class StatusView(ContextFileSystem view, string mountPoint) : IFileSystem
{
    public const string DirName = ".vfsmount";
    private const string Dir = "/" + DirName;
    private const string StatusPath = Dir + "/status.json";
    private const string QuarantinePath = Dir + "/quarantine";
    private const ulong OwnHandle = 1UL << 62;
    private readonly ConcurrentDictionary<ulong, Handle> _handles = new();
    private long _nextHandle;

    private static bool IsOwn(string path) => path == Dir || path.StartsWith(Dir + "/", StringComparison.Ordinal);

    private static bool IsOwn(ulong handle) => (handle & OwnHandle) != 0;

    public int GetAttr(string path, ulong? handle, out FileAttr attr)
    {
        if (!IsOwn(path)) return view.GetAttr(path, handle, out attr);
        attr = default;
        switch (path)
        {
            case Dir:
                return Virtual(FileKind.Directory, 0x16D, 0, out attr);
            case StatusPath:
                return Virtual(FileKind.Regular, 0x124, Report().Length, out attr);
            case QuarantinePath:
                return Virtual(FileKind.Directory, 0x16D, 0, out attr);
        }
        if (QuarantineFile(path) is not { } file || FileStatus.Lstat(file, out var st) != 0 || !st.IsRegular) return Errno.ENOENT;
        Virtual(FileKind.Regular, st.Permissions & 0x124, st.Size, out attr);
        attr.ModifyNs = attr.ChangeNs = attr.AccessNs = st.ModifyNs;
        (attr.Uid, attr.Gid) = (st.Uid, st.Gid);   // refused content stays as private as its owner made it
        return 0;
    }

    public int ReadDir(string path, List<DirEntry> entries)
    {
        if (!IsOwn(path))
        {
            int errno = view.ReadDir(path, entries);
            if (errno == 0 && path == "/") entries.Add(new DirEntry(DirName, FileKind.Directory));
            return errno;
        }
        switch (path)
        {
            case Dir:
                entries.Add(new DirEntry("status.json", FileKind.Regular));
                entries.Add(new DirEntry("quarantine", FileKind.Directory));
                return 0;
            case QuarantinePath:
                foreach (var file in view.Store.Quarantine.Entries())
                    entries.Add(new DirEntry(DisplayName(Path.GetFileName(file)), FileKind.Regular));
                return 0;
            default:
                return GetAttr(path, null, out _) is var errno and not 0 ? errno : Errno.ENOTDIR;
        }
    }

    public int Open(string path, OpenFlags flags, Caller caller, out OpenResult result)
    {
        if (!IsOwn(path)) return view.Open(path, flags, caller, out result);
        result = default;
        int errno = GetAttr(path, null, out var attr);
        if (errno != 0) return errno;
        if ((flags & (OpenFlags.Write | OpenFlags.ReadWrite | OpenFlags.Truncate)) != 0) return ReadOnly(path);
        if (attr.Kind == FileKind.Directory) return Errno.EISDIR;
        Handle handle;
        if (path == StatusPath)
        {
            handle = new BytesHandle(Report());
        }
        else
        {
            errno = PosixFile.Open(QuarantineFile(path)!, PosixFile.ReadOnly | PosixFile.NoFollow, 0, out var file);
            if (errno != 0) return errno;
            handle = new FileHandle(file!, append: false, readOnly: true);
        }
        ulong id = OwnHandle | (ulong)Interlocked.Increment(ref _nextHandle);
        _handles[id] = handle;
        result = new OpenResult(id, DirectIo: true, KeepCache: false);   // generated afresh at each open: never cached
        return 0;
    }

    public int Create(string path, uint mode, OpenFlags flags, Caller caller, out OpenResult result)
    {
        result = default;
        return IsOwn(path) ? ReadOnly(path) : view.Create(path, mode, flags, caller, out result);
    }

    public int Read(ulong handle, Span<byte> buffer, long offset, out int bytesRead)
    {
        if (!IsOwn(handle)) return view.Read(handle, buffer, offset, out bytesRead);
        bytesRead = 0;
        return _handles.TryGetValue(handle, out var h) ? h.Read(buffer, offset, out bytesRead) : Errno.EBADF;
    }

    public int Write(ulong handle, ReadOnlySpan<byte> data, long offset, out int bytesWritten)
    {
        bytesWritten = 0;
        return IsOwn(handle) ? Errno.EBADF : view.Write(handle, data, offset, out bytesWritten);
    }

    public int Flush(ulong handle) => IsOwn(handle) ? 0 : view.Flush(handle);

    public int Release(ulong handle)
    {
        if (!IsOwn(handle)) return view.Release(handle);
        if (!_handles.TryRemove(handle, out var h)) return Errno.EBADF;
        h.Release();
        return 0;
    }

    public int Fsync(ulong handle, bool dataOnly) => IsOwn(handle) ? 0 : view.Fsync(handle, dataOnly);

    public int Truncate(string path, ulong? handle, long size) => IsOwn(path) ? ReadOnly(path) : view.Truncate(path, handle, size);
    public int Unlink(string path) => IsOwn(path) ? ReadOnly(path) : view.Unlink(path);
    public int Mkdir(string path, uint mode, Caller caller) => IsOwn(path) ? ReadOnly(path) : view.Mkdir(path, mode, caller);
    public int Rmdir(string path, Caller caller = default) => IsOwn(path) ? ReadOnly(path) : view.Rmdir(path, caller);

    public int Rename(string from, string to, RenameFlags flags) =>
        IsOwn(from) ? ReadOnly(from) : IsOwn(to) ? ReadOnly(to) : view.Rename(from, to, flags);

    public int Symlink(string target, string linkPath, Caller caller) => IsOwn(linkPath) ? ReadOnly(linkPath) : view.Symlink(target, linkPath, caller);

    public int Mknod(string path, FileKind kind, uint mode, uint rdev, Caller caller) =>
        IsOwn(path) ? ReadOnly(path) : view.Mknod(path, kind, mode, rdev, caller);

    public int Link(string existingPath, string newPath) =>
        IsOwn(existingPath) ? ReadOnly(existingPath) : IsOwn(newPath) ? ReadOnly(newPath) : view.Link(existingPath, newPath);

    public int ReadLink(string path, out string target)
    {
        target = "";
        return IsOwn(path) ? (GetAttr(path, null, out _) is var e and not 0 ? e : Errno.EINVAL) : view.ReadLink(path, out target);
    }

    public int Chmod(string path, uint mode) => IsOwn(path) ? ReadOnly(path) : view.Chmod(path, mode);
    public int Chown(string path, uint? uid, uint? gid) => IsOwn(path) ? ReadOnly(path) : view.Chown(path, uid, gid);
    public int SetTimes(string path, long? accessNs, long? modifyNs) => IsOwn(path) ? ReadOnly(path) : view.SetTimes(path, accessNs, modifyNs);
    public int StatFs(string path, out FsStats stats) => view.StatFs(IsOwn(path) ? "/" : path, out stats);

    private byte[] Report() => StatusReport.Generate(view.Store, mountPoint, view.OpenHandles);

    private int ReadOnly(string path) => view.Refusals.Refuse("", path.TrimStart('/'), Errno.EROFS, $"{DirName}/ is generated and read-only");

    /// <summary>The store file behind MNT/.vfsmount/quarantine/NAME; null when no item has that name.</summary>
    private string? QuarantineFile(string path)
    {
        if (!path.StartsWith(QuarantinePath + "/", StringComparison.Ordinal)) return null;
        string name = path[(QuarantinePath.Length + 1)..];
        return view.Store.Quarantine.Entries().FirstOrDefault(f => DisplayName(Path.GetFileName(f)) == name);
    }

    /// <summary>
    /// "1795630723449-000001-work-transcript.jsonl.bin" (the store's name: Unix ms, sequence,
    /// context, file) reads as "20261125T123843.449Z-000001-work-transcript.jsonl": the time in
    /// UTC a person can read, and the refused file's own extension.
    /// </summary>
    public static string DisplayName(string storeName)
    {
        string stem = storeName.EndsWith(".bin", StringComparison.Ordinal) ? storeName[..^4] : storeName;
        var m = StoreName().Match(stem);
        if (!m.Success) return stem;
        var time = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        return time.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture) + m.Groups[2].Value;
    }

    [GeneratedRegex(@"^([0-9]{13})(-.*)$")]
    private static partial Regex StoreName();

    /// <summary>Generated files belong to the store's owner (SPEC §2.5: a virtual file presents the file behind it).</summary>
    private int Virtual(FileKind kind, uint permissions, long size, out FileAttr attr)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        attr = new FileAttr { Kind = kind, Permissions = permissions, Size = size, AccessNs = now, ModifyNs = now, ChangeNs = now, Links = kind == FileKind.Directory ? 2u : 1u };
        if (FileStatus.Lstat(view.Store.Root, out var root) == 0) (attr.Uid, attr.Gid) = (root.Uid, root.Gid);
        return 0;
    }
}
