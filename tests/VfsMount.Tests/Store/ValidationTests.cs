using System.Text;
using VfsMount.Store;
using VfsMount.Store.Documents;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

/// <summary>Each refusal the store owns, with its errno; the quarantine; documents and atomic replace.</summary>
public sealed class ValidationTests : IDisposable
{
    private readonly TempStore _dir = new();

    public void Dispose() => _dir.Dispose();

    private static int ErrnoOf(Action action) => Assert.ThrowsAny<StoreException>(action).Errno;

    // ---- contexts ----

    [Theory]
    [InlineData("", 22)]
    [InlineData("-lead", 22)]
    [InlineData("system", 22)]
    [InlineData("SyStEm", 22)]
    [InlineData("a b", 22)]
    [InlineData("a/b", 22)]
    [InlineData("..", 22)]
    [InlineData("é", 22)]
    [InlineData("a\0b", 22)]
    public void CreateContext_InvalidName_Einval(string name, int errno)
    {
        var store = _dir.Open();
        Assert.Equal(errno, ErrnoOf(() => store.CreateContext(name)));
        Assert.Empty(Directory.GetFileSystemEntries(store.ContextsDir));
        Assert.False(File.Exists(store.StatePath));
    }

    [Fact]
    public void CreateContext_NameOver255Bytes_Enametoolong()
    {
        var store = _dir.Open();
        Assert.Equal(36, ErrnoOf(() => store.CreateContext(new string('a', 256))));
        store.CreateContext(new string('a', 255));
        Assert.True(store.ContextExists(new string('a', 255)));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("Z9_-x")]
    [InlineData("systems")]
    [InlineData("_x")]
    public void CreateContext_ValidName_Listed(string name)
    {
        var store = _dir.Open();
        store.CreateContext(name);
        Assert.Equal([name], store.ListContexts());
    }

    [Fact]
    public void CreateContext_Exists_Eexist()
    {
        var store = _dir.Open();
        store.CreateContext("a");
        Assert.Equal(17, ErrnoOf(() => store.CreateContext("a")));
        Assert.Single(Disk.Entries(File.ReadAllBytes(Path.Combine(_dir.TranscriptDir("a"), "active.jsonl"))));
    }

    [Fact]
    public void RenameContext_Rules_Errnos()
    {
        var store = _dir.Open();
        store.CreateContext("a");
        store.CreateContext("b");
        Assert.Equal(17, ErrnoOf(() => store.RenameContext("a", "b")));
        Assert.Equal(2, ErrnoOf(() => store.RenameContext("nope", "c")));
        Assert.Equal(22, ErrnoOf(() => store.RenameContext("a", "bad name")));
        File.WriteAllText(Path.Combine(_dir.ContextDir("a"), ".lock"), DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(16, ErrnoOf(() => store.RenameContext("a", "c")));
        File.WriteAllText(Path.Combine(_dir.ContextDir("a"), ".lock"), (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 46).ToString(System.Globalization.CultureInfo.InvariantCulture));
        store.RenameContext("a", "c");   // a stale lock does not hold the context
        Assert.Equal(["b", "c"], store.ListContexts());
        var state = Disk.Utf8(File.ReadAllBytes(store.StatePath));
        Assert.Contains("\"name\": \"c\"", state);
        Assert.DoesNotContain("\"name\": \"a\"", state);
    }

    [Fact]
    public void RemoveContext_EntriesBeyondAnchor_Enotempty()
    {
        var store = _dir.Open(new StorageOptions(MaxEntries: 2));
        store.CreateContext("a");
        store.CreateContext("b");
        store.RemoveContext("b");
        Assert.Equal(["a"], store.ListContexts());
        Assert.DoesNotContain("\"b\"", Disk.Utf8(File.ReadAllBytes(store.StatePath)));

        store.Transcript("a").Append([EntryCompleter.Transcript("{\"content\":\"x\"}"u8, "a", "u", (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds())]);
        Assert.True(File.Exists(Path.Combine(_dir.TranscriptDir("a"), "manifest.json")), "rotated: the entries are in a partition now");
        Assert.Equal(39, ErrnoOf(() => store.RemoveContext("a")));
        Assert.Equal(2, ErrnoOf(() => store.RemoveContext("zz")));
        Assert.True(store.ContextExists("a"));
    }

    // ---- logs ----

    [Fact]
    public void Append_FullDisk_Enospc()
    {
        if (!File.Exists("/dev/full")) return;
        var q = new Quarantine(Path.Combine(_dir.Root, "q"));
        var e = Assert.ThrowsAny<StoreException>(() => LineAppender.Append("/dev/full", "{\"a\":1}\n"u8, q, "ctx"));
        Assert.Equal(28, e.Errno);
    }

    [Fact]
    public void Append_BatchWithOneBadLine_NothingAppended()
    {
        // The view completes every line first; a refused line throws before the one append.
        var store = _dir.Open();
        store.CreateContext("a");
        long before = store.Transcript("a").Length;
        var lines = new[] { "{\"content\":\"ok\"}", "{\"content\":1}" };
        Assert.Equal(22, ErrnoOf(() => store.Transcript("a").Append(
            lines.Select(l => EntryCompleter.Transcript(Encoding.UTF8.GetBytes(l), "a", "u", 1)).ToList())));
        Assert.Equal(before, store.Transcript("a").Length);
    }

    [Fact]
    public void Manifest_Corrupt_Eio()
    {
        string path = Path.Combine(_dir.Root, "manifest.json");
        File.WriteAllText(path, "{ not json");
        Assert.Equal(5, ErrnoOf(() => Manifest.Load(path)));
        File.WriteAllText(path, "{\"version\":1}");
        Assert.Equal(5, ErrnoOf(() => Manifest.Load(path)));
        Assert.Null(Manifest.Load(Path.Combine(_dir.Root, "absent.json")));
    }

    [Fact]
    public void Append_CorruptManifest_EioAndNothingAppended()
    {
        // chibi stops on a corrupt manifest; the store refuses the append whole (a failure after
        // the lines were in would make the writer retry them) and does not overwrite the manifest.
        var store = _dir.Open(new StorageOptions(MaxEntries: 1));
        Directory.CreateDirectory(_dir.TranscriptDir("a"));
        string manifest = Path.Combine(_dir.TranscriptDir("a"), "manifest.json");
        string active = Path.Combine(_dir.TranscriptDir("a"), "active.jsonl");
        File.WriteAllText(manifest, "garbage");
        File.WriteAllText(active, ChibiWriter.Entry("a", "kept", 1) + "\n");
        long before = new FileInfo(active).Length;
        Assert.Equal(5, ErrnoOf(() => store.Transcript("a").Append([EntryCompleter.Transcript("{}"u8, "a", "u", 1)])));
        Assert.Equal("garbage", File.ReadAllText(manifest));
        Assert.Equal(before, new FileInfo(active).Length);
    }

    [Fact]
    public void Append_RotationFails_AppendStillSucceedsAndRotatesLater()
    {
        var store = _dir.Open(new StorageOptions(MaxEntries: 2));
        string tdir = _dir.TranscriptDir("a");
        Directory.CreateDirectory(tdir);
        File.WriteAllText(Path.Combine(tdir, "partitions"), "in the way");   // mkdir partitions/ fails
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var log = store.Transcript("a");
        log.Append([EntryCompleter.Transcript("{\"content\":\"one\"}"u8, "a", "u", now)]);
        log.Append([EntryCompleter.Transcript("{\"content\":\"two\"}"u8, "a", "u", now)]);   // due, rotation fails: not an append failure
        Assert.Equal(["one", "two"], Disk.Contents(Disk.ReadAll(log)));
        Assert.False(File.Exists(Path.Combine(tdir, "manifest.json")));

        File.Delete(Path.Combine(tdir, "partitions"));
        log.Append([EntryCompleter.Transcript("{\"content\":\"three\"}"u8, "a", "u", now)]);
        Assert.Equal(3, Disk.Manifest(tdir)["partitions"]![0]!["entry_count"]!.GetValue<long>());
        Assert.Equal(["one", "two", "three"], Disk.Contents(Disk.ReadAll(log)));
    }

    // ---- quarantine ----

    [Fact]
    public void Quarantine_Keep_WritesContentAndReason()
    {
        var q = new Quarantine(Path.Combine(_dir.Root, "q"));
        string path = q.Keep("my ctx", "transcript.jsonl", "not JSON", "[1,2"u8)!;
        Assert.Equal("[1,2", File.ReadAllText(path));
        Assert.Equal("not JSON\n", File.ReadAllText(path + ".reason"));
        Assert.Contains("my_ctx-transcript.jsonl", Path.GetFileName(path));
        Assert.Equal([path], q.Entries());
    }

    [Fact]
    public void Quarantine_OverMaxBytes_OldestDroppedFirst()
    {
        var q = new Quarantine(Path.Combine(_dir.Root, "q"), maxBytes: 100);
        var kept = new List<string>();
        for (int i = 0; i < 5; i++)
            kept.Add(q.Keep("c", "f", $"reason {i}", Encoding.ASCII.GetBytes(new string((char)('a' + i), 40)))!);
        var entries = q.Entries();
        Assert.Equal(kept[^2..], entries);   // 2 × 40 ≤ 100 < 3 × 40
        Assert.Equal(new string('e', 40), File.ReadAllText(entries[^1]));
        Assert.All(kept[..^2], p => Assert.False(File.Exists(p) || File.Exists(p + ".reason")));
        Assert.True(entries.Sum(p => new FileInfo(p).Length) <= 100);
    }

    [Fact]
    public void Quarantine_LargerThanBound_NotKept()
    {
        var q = new Quarantine(Path.Combine(_dir.Root, "q"), maxBytes: 10);
        string first = q.Keep("c", "f", "small", "12345"u8)!;
        Assert.Null(q.Keep("c", "f", "big", new byte[11]));
        Assert.Equal([first], q.Entries());
    }

    [Fact]
    public void Quarantine_ManyInOneMillisecond_OrderKept()
    {
        var q = new Quarantine(Path.Combine(_dir.Root, "q"), maxBytes: 30);
        for (int i = 0; i < 20; i++) q.Keep("c", "f", "r", Encoding.ASCII.GetBytes($"{i:D2}"));
        Assert.Equal(Enumerable.Range(5, 15).Select(i => $"{i:D2}"), q.Entries().Select(File.ReadAllText));
    }

    // ---- documents ----

    private string Doc(string name, byte[] content)
    {
        string path = Path.Combine(_dir.Root, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private void AssertInvalid(DocumentFormat format, byte[] content) =>
        Assert.Equal(22, ErrnoOf(() => DocumentValidator.Validate(format, Doc("doc", content))));

    private void AssertValid(DocumentFormat format, byte[] content) => DocumentValidator.Validate(format, Doc("doc", content));

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Validate_JsonObject()
    {
        AssertValid(DocumentFormat.JsonObject, B("{\n  \"system_prompt_md_mtime\": 1\n}"));
        AssertValid(DocumentFormat.JsonObject, B("{}"));
        AssertInvalid(DocumentFormat.JsonObject, B("[1, 2]"));
        AssertInvalid(DocumentFormat.JsonObject, B("\"text\""));
        AssertInvalid(DocumentFormat.JsonObject, B("{\"a\": "));
        AssertInvalid(DocumentFormat.JsonObject, B(""));
        AssertInvalid(DocumentFormat.JsonObject, B("{} {}"));
        AssertInvalid(DocumentFormat.JsonObject, [(byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}']);
        AssertInvalid(DocumentFormat.JsonObject, [(byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC3, (byte)'"', (byte)'}']);
    }

    [Fact]
    public void Validate_JsonLines()
    {
        AssertValid(DocumentFormat.JsonLines, B(""));
        AssertValid(DocumentFormat.JsonLines, B("{\"a\":1}\n{\"b\":[2]}\n"));
        AssertValid(DocumentFormat.JsonLines, B("{\"a\":1}\n\n{\"b\":2}"));
        AssertInvalid(DocumentFormat.JsonLines, B("{\"a\":1}\n[2]\n"));
        AssertInvalid(DocumentFormat.JsonLines, B("{\"a\":1}\n{\"b\":\n"));
        AssertInvalid(DocumentFormat.JsonLines, B("{\"a\":1}{\"b\":2}\n"));
        AssertInvalid(DocumentFormat.JsonLines, [.. B("{\"a\":\""), 0xFE, .. B("\"}\n")]);
        // chibi splits lines on '\n' only: a lone '\r' does not end a line.
        AssertInvalid(DocumentFormat.JsonLines, B("{\"a\":1}\r{\"b\":2}\n"));
        AssertValid(DocumentFormat.JsonLines, B("{\"a\":1}\r\n{\"b\":2}\r\n"));
    }

    [Fact]
    public void Validate_Toml()
    {
        AssertValid(DocumentFormat.Toml, B("[storage]\npartition_max_entries = 5\n"));
        AssertValid(DocumentFormat.Toml, B(""));
        AssertInvalid(DocumentFormat.Toml, B("[storage\n"));
        AssertInvalid(DocumentFormat.Toml, B("a = "));
        AssertInvalid(DocumentFormat.Toml, B("a = 1\na = 2\n"));
        AssertInvalid(DocumentFormat.Toml, [.. B("name = \""), 0xFF, .. B("\"\n")]);
    }

    [Fact]
    public void Validate_Text()
    {
        AssertValid(DocumentFormat.Text, B("# Goals\n- ship it ✓ 日本語\n"));
        AssertValid(DocumentFormat.Text, []);
        AssertInvalid(DocumentFormat.Text, [0x61, 0xFF, 0x62]);
        AssertInvalid(DocumentFormat.Text, [0x61, 0xE6, 0x97]);          // cut inside a character at the end
        AssertInvalid(DocumentFormat.Text, [0xED, 0xA0, 0x80]);          // a surrogate
        AssertInvalid(DocumentFormat.Text, [0xC0, 0xAF]);                // overlong
    }

    [Fact]
    public void Validate_TextCharacterAcrossReadBoundary_Valid()
    {
        var bytes = new byte[(1 << 16) + 10];
        Array.Fill(bytes, (byte)'a');
        "日"u8.CopyTo(bytes.AsSpan((1 << 16) - 1));   // its 3 bytes straddle the 64 KiB read
        AssertValid(DocumentFormat.Text, bytes);
        bytes[(1 << 16) + 1] = (byte)'a';            // now cut: invalid
        AssertInvalid(DocumentFormat.Text, bytes);
    }

    [Fact]
    public void AtomicFile_Write_ReplacesWholeAndLeavesNoTemp()
    {
        string target = Path.Combine(_dir.Root, "summary.md");
        File.WriteAllText(target, "old content");
        ulong inodeBefore = Inode(target);
        AtomicFile.Write(target, "new"u8);
        Assert.Equal("new", File.ReadAllText(target));
        Assert.NotEqual(inodeBefore, Inode(target));
        Assert.Equal([target], Directory.GetFiles(_dir.Root));
    }

    [Fact]
    public async Task AtomicFile_Write_ReadersSeeOldOrNewNeverMix()
    {
        string target = Path.Combine(_dir.Root, "todos.md");
        byte[] a = Enumerable.Repeat((byte)'a', 256 * 1024).ToArray();
        byte[] b = Enumerable.Repeat((byte)'b', 128 * 1024 + 7).ToArray();
        AtomicFile.Write(target, a);
        using var stop = new CancellationTokenSource();
        int reads = 0;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                byte[] seen = File.ReadAllBytes(target);
                Assert.True(seen.AsSpan().SequenceEqual(a) || seen.AsSpan().SequenceEqual(b), $"a reader saw {seen.Length} mixed bytes");
                Interlocked.Increment(ref reads);
            }
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 60 || (Volatile.Read(ref reads) < 200 && clock.Elapsed < TimeSpan.FromSeconds(5)); i += 2)
        {
            AtomicFile.Write(target, b);
            AtomicFile.Write(target, a);
        }
        stop.Cancel();
        await reader;
        Assert.True(reads > 0);
        Assert.Equal(a, File.ReadAllBytes(target));
        Assert.Single(Directory.GetFiles(_dir.Root));
    }

    [Fact]
    public void AtomicFile_WriteFails_TargetKeptTempRemoved()
    {
        string target = Path.Combine(_dir.Root, "local.toml");
        Directory.CreateDirectory(target);   // renaming a file over a directory fails
        File.WriteAllText(Path.Combine(target, "inside"), "x");
        Assert.ThrowsAny<IOException>(() => AtomicFile.Write(target, "a = 1"u8));
        Assert.True(Directory.Exists(target));
        Assert.Empty(Directory.GetFiles(_dir.Root));
    }

    private static ulong Inode(string path)
    {
        Assert.Equal(0, FileStatus.Lstat(path, out var st));
        return st.Inode;
    }
}
