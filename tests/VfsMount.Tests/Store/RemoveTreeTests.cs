using VfsMount.Store;
using VfsMount.Store.Posix;

namespace VfsMount.Tests.Store;

/// <summary>
/// Removing a context deletes its trash as root: a directory in it swapped for a symlink
/// while the walk runs must not lead the delete outside the store.
/// </summary>
public sealed class RemoveTreeTests
{
    [Fact]
    public async Task RemoveTree_SubdirectorySwappedForASymlinkMidWalk_NothingOutsideDeleted()
    {
        string root = Directory.CreateTempSubdirectory("vfsmount-rmtree-").FullName;
        try
        {
            var store = new ChibiStore(Path.Combine(root, "store"));
            string outside = Path.Combine(root, "outside");
            Directory.CreateDirectory(outside);
            File.WriteAllText(Path.Combine(outside, "precious"), "keep");
            string tree = Path.Combine(store.ContextsDir, ".vfsmount-trash-x");
            Directory.CreateDirectory(Path.Combine(tree, "a"));
            Directory.CreateDirectory(Path.Combine(tree, "sub"));
            File.WriteAllText(Path.Combine(tree, "sub", "f"), "x");

            using var hold = HoldPoint.Arm("walk-entry", Path.Combine(tree, "sub"));
            var remove = Task.Run(() => PathOps.RemoveTree(tree));
            Assert.True(hold.WaitReached(TimeSpan.FromSeconds(10)));
            Directory.Delete(Path.Combine(tree, "sub"), recursive: true);
            Directory.CreateSymbolicLink(Path.Combine(tree, "sub"), outside);   // the swap
            hold.Release();
            await remove.WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "precious")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
