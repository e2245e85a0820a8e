using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Nodes;

/// <summary>Attributes as the view presents them: a store file's own, or a virtual file's.</summary>
/// <param name="keyByBirth">
/// Whether a file's birth time is part of its identity: it tells a file from a later one given
/// its freed inode number (ext4 does so at once). Not on overlayfs, where a lower file copied up
/// on its first change keeps its inode number but is born again.
/// </param>
internal sealed class Attrs(bool keyByBirth)
{
    public int Stat(string storePath, out FileAttr attr)
    {
        int errno = FileStatus.Lstat(storePath, out var st);
        if (errno != 0)
        {
            attr = default;
            return errno;
        }
        return Fill(st, out attr);
    }

    public int Fill(in FileStatus st, out FileAttr attr)
    {
        attr = new FileAttr
        {
            Kind = KindOf(st),
            Permissions = st.Permissions,
            Size = st.Size,
            AccessNs = st.AccessNs,
            ModifyNs = st.ModifyNs,
            ChangeNs = st.ChangeNs,
            Links = st.Links,
            Uid = st.Uid,
            Gid = st.Gid,
            Rdev = (st.RdevMajor & 0xFFF) << 20 | (st.RdevMinor & 0xFFFFF),
            Identity = new NodeIdentity(st.Device, st.Inode, keyByBirth ? st.BirthNs : 0),
        };
        return 0;
    }

    /// <summary>The store's file types and the view's kinds, both ways.</summary>
    private static readonly (FileKind Kind, uint Type)[] Types =
    [
        (FileKind.Regular, FileStatus.TypeRegular), (FileKind.Directory, FileStatus.TypeDirectory),
        (FileKind.Symlink, FileStatus.TypeSymlink), (FileKind.Fifo, FileStatus.TypeFifo), (FileKind.Socket, FileStatus.TypeSocket),
        (FileKind.CharDevice, FileStatus.TypeCharDevice), (FileKind.BlockDevice, FileStatus.TypeBlockDevice),
    ];

    public static FileKind KindOf(in FileStatus st)
    {
        uint type = st.Type;
        return Array.Find(Types, t => t.Type == type) is { Type: not 0 } found ? found.Kind : FileKind.Regular;
    }

    public static uint TypeOf(FileKind kind) => Array.Find(Types, t => t.Kind == kind).Type;

    /// <summary>
    /// A virtual file with nothing behind it yet presents the owner of the directory it would be
    /// made in, and that directory's read/write bits (SPEC §2.5): who may create it there may use it.
    /// </summary>
    public static int Behind(string directory, long size, out FileAttr attr)
    {
        Virtual(FileKind.Regular, 0x1A4, size, out attr);
        if (FileStatus.Lstat(directory, out var dir) != 0) return 0;
        (attr.Uid, attr.Gid, attr.Permissions) = (dir.Uid, dir.Gid, dir.Permissions & 0x1B6);
        return 0;
    }

    public static int Virtual(FileKind kind, uint permissions, long size, out FileAttr attr)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        attr = new FileAttr { Kind = kind, Permissions = permissions, Size = size, AccessNs = now, ModifyNs = now, ChangeNs = now, Links = 1 };
        return 0;
    }
}
