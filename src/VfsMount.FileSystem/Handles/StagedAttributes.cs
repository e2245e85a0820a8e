using VfsMount.Store.Posix;

namespace VfsMount.FileSystem.Handles;

/// <summary>
/// SPEC §2.2: `fstat` on a writing handle sees its staged copy, size included. The kernel sends
/// GETATTR without a handle for fstat(2), and keeps one size per inode, shared by every
/// descriptor of the node, so the answer comes from the node: while a handle of this daemon
/// stages a change to the document, stat of it shows that staged copy's size and times — to
/// everyone, as an in-place write on the native filesystem shows at once. That is also what
/// the kernel itself believes meanwhile (it sets the size at an O_TRUNC open and after each
/// write past the end); answering the committed size instead would flip the inode's size back
/// and forth and drop its pages at each flip. Content stays per handle: a reader reads its own
/// descriptor, and a read past the size the kernel holds asks with its handle, which answers
/// its own file's size (<see cref="DocumentReader.Size"/>).
/// </summary>
internal static class StagedAttributes
{
    /// <summary>
    /// Over the committed document's attributes: size and times of the staged copy changed last
    /// (by open, write or truncate) among the handles holding changes not committed yet. The
    /// identity stays the committed file's: the node is still that file until a commit.
    /// </summary>
    public static void Show(DocumentCommits commits, string target, ref FileAttr attr)
    {
        DocumentHandle? latest = null;
        FileStatus staged = default;
        foreach (var handle in commits.StagesOf(target))
            if ((latest is null || handle.LastChange > latest.LastChange) && handle.TryStaged(out var st))
                (latest, staged) = (handle, st);
        if (latest is null) return;
        (attr.Size, attr.ModifyNs, attr.ChangeNs, attr.Staged) = (staged.Size, staged.ModifyNs, staged.ChangeNs, true);
    }
}
