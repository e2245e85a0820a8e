using VfsMount.Store.Json;
using VfsMount.Store.Posix;

namespace VfsMount.Store.Transcript;

/// <summary>What rotation needs to know of a partition's lines: counts, first and last timestamps.</summary>
public sealed class PartitionStats
{
    public long Entries { get; private set; }
    public long Tokens { get; private set; }
    /// <summary>User prompts (chibi 0.10's prompt_count).</summary>
    public long Prompts { get; private set; }
    public ulong FirstTimestamp { get; private set; }
    public ulong LastTimestamp { get; private set; }
    /// <summary>Bytes of the file these stats cover (always at a line boundary).</summary>
    public long Bytes { get; private set; }

    public void Add(ulong timestamp, long tokens, long lineBytes, bool userPrompt)
    {
        if (userPrompt) Prompts++;
        if (Entries == 0) FirstTimestamp = timestamp;
        LastTimestamp = timestamp;
        Entries++;
        Tokens += tokens;
        Bytes += lineBytes;
    }

    /// <summary>Counts the complete lines of a file from <see cref="Bytes"/> on; lines chibi would skip count no entry.</summary>
    public void ScanFrom(PosixFile file, RotationPolicy policy, Action<string>? onContent = null)
    {
        foreach (var (line, length) in Lines(file, Bytes))
        {
            var info = EntryCompleter.Inspect(line.Span);
            if (info is { } i)
            {
                Add(i.Timestamp, policy.TokensOf(i.ContentBytes), length, i.IsUserPrompt);
                if (onContent is not null) onContent(ContentOf(line.Span));
            }
            else
            {
                Bytes += length;
            }
        }
    }

    public static PartitionStats Scan(string path, RotationPolicy policy, Action<string>? onContent = null)
    {
        var stats = new PartitionStats();
        using var file = PosixFile.OpenOrThrow(path, PosixFile.ReadOnly);
        stats.ScanFrom(file, policy, onContent);
        return stats;
    }

    private static string ContentOf(ReadOnlySpan<byte> line)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(line.ToArray());
        return doc.RootElement.TryGetProperty("content", out var c) && c.ValueKind == System.Text.Json.JsonValueKind.String
            ? c.GetString()! : "";
    }

    /// <summary>Complete lines (without '\n') from offset on, with their length including the '\n'.</summary>
    public static IEnumerable<(ReadOnlyMemory<byte> Line, long Length)> Lines(PosixFile file, long offset)
    {
        var buffer = new byte[1 << 16];
        var pending = new MemoryStream();
        while (true)
        {
            long n = file.ReadAt(buffer, offset);
            if (n < 0) throw new PosixException((int)-n, "read partition");
            if (n == 0) yield break;
            offset += n;
            int start = 0;
            for (int i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                ReadOnlyMemory<byte> line;
                if (pending.Length > 0)
                {
                    pending.Write(buffer, start, i - start);
                    line = pending.ToArray();
                    pending.SetLength(0);
                }
                else
                {
                    line = buffer.AsMemory(start, i - start).ToArray();
                }
                yield return (line, line.Length + 1);
                start = i + 1;
            }
            pending.Write(buffer, start, (int)n - start);
        }
    }
}
