namespace VfsMount.Store.Posix;

/// <summary>
/// One store path, looked up by name (one statx, the path encoded once) to tell whether it still
/// leads to a file whose descriptor is held: the same device and inode. It opens nothing, so a
/// symlink on the way, followed by the lookup, can only make the answer "not the same file".
/// </summary>
internal sealed class NameProbe
{
    private readonly StoreRoot? _root;
    private readonly byte[] _name;

    public NameProbe(string path)
    {
        Path = path;
        _root = StoreRoot.For(path);
        _name = _root?.RelativeZ(path) ?? System.Text.Encoding.UTF8.GetBytes(path + "\0");
    }

    public string Path { get; }

    /// <summary>lstat of the name now. 0 or errno.</summary>
    public unsafe int Stat(out FileStatus status)
    {
        if (_root is not null) return _root.StatRelative(_name, out status);
        fixed (byte* name = _name) return FileStatus.StatAt(Libc.AT_FDCWD, name, out status);
    }

    /// <summary>Whether the name leads to the file held (st is that file's status from when it was opened).</summary>
    public bool LeadsTo(in FileStatus held, out FileStatus now) => Stat(out now) == 0 && now.IsSameFile(held);
}
