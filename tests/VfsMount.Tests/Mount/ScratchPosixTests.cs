namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.3: scratch names are ordinary POSIX files — hard links, FIFOs, unix sockets — the
/// things `tar`, `ln`, build tools and daemons' sockets need, none of which worked before.
/// </summary>
[Collection("Mount")]
public sealed class ScratchPosixTests
{
    private static MountedStore StartWithContext()
    {
        var m = MountedStore.Start();
        m.Ok("mkdir c");
        return m;
    }

    [Fact]
    public void HardLink_SharesOneFile_InTheMountAndTheStore()
    {
        using var m = StartWithContext();
        m.Ok("echo one > c/a && ln c/a c/b && echo two >> c/b");
        Assert.Equal("one\ntwo\n", m.Ok("cat c/a"));
        Assert.Equal("2 2", m.Ok("echo $(stat -c %h c/a) $(stat -c '%h' c/b)").Trim());
        Assert.Equal(m.Ok("stat -c %i c/a"), m.Ok("stat -c %i c/b"));
        var store = m.StorePath("contexts", "c");
        Assert.Equal(Shell.Run("stat", ["-c", "%i", "a"], store, 10).Out, Shell.Run("stat", ["-c", "%i", "b"], store, 10).Out);
        m.Ok("rm c/a");
        Assert.Equal("one\ntwo\n", m.Ok("cat c/b"));
        Assert.Equal("1", m.Ok("stat -c %h c/b").Trim());
    }

    [Fact]
    public void HardLink_OfADocumentOrAcrossContexts_IsRefused()
    {
        using var m = StartWithContext();
        m.Ok("mkdir d && echo '# s' > c/summary.md && echo x > c/f");
        // A link to a document would let plain writes change it past validation.
        Assert.NotEqual(0, m.Sh("ln c/summary.md c/alias").Exit);
        Assert.NotEqual(0, m.Sh("ln c/f c/todos.md").Exit);
        Assert.Contains("Invalid cross-device link", m.Sh("ln c/f d/f").Err);
        Assert.False(File.Exists(m.StorePath("contexts", "c", "alias")));
    }

    [Fact]
    public void Fifo_CarriesBytesBetweenProcesses()
    {
        using var m = StartWithContext();
        Assert.Equal("through the pipe\n", m.Ok("mkfifo c/p && (echo through the pipe > c/p &) && timeout 10 cat c/p"));
        Assert.Equal("fifo", m.Ok("stat -c %F c/p").Trim());
        Assert.Equal("fifo", Shell.Run("stat", ["-c", "%F", "p"], m.StorePath("contexts", "c"), 10).Out.Trim());
    }

    [Fact]
    public void UnixSocket_BindsInScratch()
    {
        using var m = StartWithContext();
        var (exit, _, err) = m.Python("""
            import socket
            s = socket.socket(socket.AF_UNIX); s.bind(MNT + "/c/sock"); s.listen(1)
            print(os.stat(MNT + "/c/sock").st_mode & 0o170000 == 0o140000)
            """);
        Assert.True(exit == 0, err + m.Log);
        Assert.Equal("socket", m.Ok("stat -c %F c/sock").Trim());
    }

    [Fact]
    public void Mknod_OfADevice_IsRootsAsNatively()
    {
        using var m = StartWithContext();
        m.Ok("mknod c/null c 1 3");
        Assert.Equal("character special file 1,3", m.Ok("stat -c '%F %t,%T' c/null").Trim());
        m.Ok("chmod 1777 c");
        var (exit, _, _) = Shell.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "mknod", "c/null2", "c", "1", "3"], m.Mnt, 10);
        Assert.NotEqual(0, exit);
    }

    [Fact]
    public void Mknod_OfARegularFile_MakesAnEmptyFile()
    {
        using var m = StartWithContext();
        var (exit, stdout, err) = m.Python("os.mknod(MNT + '/c/empty', 0o640 | 0o100000); print(oct(os.stat(MNT + '/c/empty').st_mode))");
        Assert.True(exit == 0, err + m.Log);
        Assert.Equal("0o100640", stdout.Trim());
    }

    [Fact]
    public void TarExtract_WithHardLinks_Succeeds()
    {
        using var m = StartWithContext();
        string src = Path.Combine(m.Root, "src");
        Shell.Run("bash", ["-c", $"mkdir -p {src}/t && echo data > {src}/t/x && ln {src}/t/x {src}/t/y && mkfifo {src}/t/p && tar -C {src} -cf {m.Root}/a.tar t"], "/", 30);
        m.Ok($"tar -C c -xf {m.Root}/a.tar");
        Assert.Equal("data\n", m.Ok("cat c/t/y"));
        Assert.Equal(m.Ok("stat -c %i c/t/x"), m.Ok("stat -c %i c/t/y"));
        Assert.Equal("fifo", m.Ok("stat -c %F c/t/p").Trim());
    }
}
