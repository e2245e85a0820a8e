using System.Text;
using System.Text.Json.Nodes;
using VfsMount.Store.Json;
using VfsMount.Store.Transcript;

namespace VfsMount.Tests.Store;

/// <summary>A transcript reader keeps archived partitions open between reads, at most four, and closes them when released.</summary>
public sealed class PartitionFilesTests : IDisposable
{
    private const string Ctx = "ctx";
    private readonly TempStore _dir = new();

    public PartitionFilesTests() => Directory.CreateDirectory(_dir.ContextDir(Ctx));

    public void Dispose() => _dir.Dispose();

    private string PartitionsDir => Path.Combine(_dir.TranscriptDir(Ctx), "partitions");

    /// <summary>Descriptors of this process open on the context's partition files.</summary>
    private int OpenPartitions() => new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
        .Count(fd => fd.LinkTarget is { } target && target.StartsWith(PartitionsDir + "/", StringComparison.Ordinal));

    [Fact]
    public void SequentialRead_OfTwentyPartitions_SameBytes_PartitionsKeptOpen_AtMostFour_NoneAfterRelease()
    {
        var log = _dir.Open(new StorageOptions(MaxEntries: 2)).Transcript(Ctx);
        ulong t = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 1000;
        for (ulong i = 0; i < 41; i++)
            log.Append([EntryCompleter.Transcript(Encoding.UTF8.GetBytes(new JsonObject { ["content"] = $"entry {i}", ["timestamp"] = t + i }.ToJsonString()), Ctx, "alice", t + i)]);
        Assert.Equal(20, Directory.GetFiles(PartitionsDir, "*.jsonl").Length);
        long length = log.Length;
        var plain = new byte[length];
        Assert.Equal(length, log.Read(plain, 0));

        var kept = new byte[length];
        using (var partitions = new PartitionFiles())
        {
            // In small reads, as the kernel sends them: every read of a partition after its first uses the open one.
            for (int at = 0; at < length; at += 100)
                log.Read(kept.AsSpan(at, (int)Math.Min(100, length - at)), at, partitions);
            Assert.InRange(OpenPartitions(), 1, 4);

            // Out of order too, across partitions and back.
            var again = new byte[300];
            Assert.Equal(300, log.Read(again, length / 3, partitions));
            Assert.Equal(plain.AsSpan((int)(length / 3), 300).ToArray(), again);
        }
        Assert.Equal(plain, kept);
        Assert.Equal(0, OpenPartitions());
    }
}
