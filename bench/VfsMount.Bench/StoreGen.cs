using System.Text;
using System.Text.Json;

namespace VfsMount.Bench;

/// <summary>Writes stores directly in chibi's format (STORE-FORMAT.md), fast, without the mount.</summary>
internal static class StoreGen
{
    private const string Words =
        "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore " +
        "magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo ";

    private static readonly string Filler = BuildFiller(1 << 20);

    private static string BuildFiller(int n)
    {
        var sb = new StringBuilder(n + Words.Length);
        while (sb.Length < n) sb.Append(Words);
        return sb.ToString(0, n);
    }

    private static ulong Now => (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>A complete entry of exactly `size` bytes including its '\n' (size ≥ ~150).</summary>
    private static string Entry(string from, string to, ulong ts, string type, int size, long salt, string? content = null)
    {
        string head = $"{{\"id\":\"{Guid.NewGuid()}\",\"timestamp\":{ts},\"from\":\"{from}\",\"to\":\"{to}\",\"content\":\"";
        string tail = $"\",\"entry_type\":\"{type}\"}}\n";
        if (content is null)
        {
            int n = Math.Max(1, size - head.Length - tail.Length);
            int start = (int)(salt * 7919 % (Filler.Length - n - 1));
            content = Filler.Substring(start, n);
        }
        return head + content + tail;
    }

    /// <summary>Estimated tokens of one entry as chibi counts them (bytes_per_token 3).</summary>
    private static long Tokens(string line)
    {
        int c0 = line.IndexOf("\"content\":\"", StringComparison.Ordinal) + 11;
        int c1 = line.IndexOf("\",\"entry_type\"", StringComparison.Ordinal);
        return (c1 - c0 + 2) / 3;
    }

    /// <summary>
    /// contexts/CTX with `totalBytes` of transcript in `partitions` archived partitions of 1000
    /// entries each (manifest in order, empty active partition), and the same bytes concatenated
    /// into `concatenated` (the native file of one transcript).
    /// </summary>
    public static void BigTranscript(string store, string ctx, long totalBytes, int partitions, string concatenated)
    {
        const int perPartition = 1000;
        int entrySize = (int)(totalBytes / partitions / perPartition);
        string tdir = Path.Combine(store, "contexts", ctx, "transcript");
        Directory.CreateDirectory(Path.Combine(tdir, "partitions"));
        File.WriteAllText(Path.Combine(tdir, ".transcript.lock"), "");
        File.WriteAllText(Path.Combine(tdir, "active.jsonl"), "");
        ulong ts0 = Now - 10 * 86400;
        var records = new List<(string File, ulong Start, ulong End, long Tokens)>();
        using var all = new FileStream(concatenated, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        long index = 0;
        var bytes = new byte[entrySize * 4 + 4096];
        for (int p = 0; p < partitions; p++)
        {
            ulong start = ts0 + (ulong)(index / 20);
            ulong end = ts0 + (ulong)((index + perPartition - 1) / 20);
            string file = $"partitions/{start}-{end}.jsonl";
            long tokens = 0;
            using (var part = new FileStream(Path.Combine(tdir, file), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                for (int i = 0; i < perPartition; i++, index++)
                {
                    ulong ts = ts0 + (ulong)(index / 20);
                    string line = index == 0
                        ? Entry("system", ctx, ts, "context_created", 0, 0, "Context created")
                        : index % 2 == 1
                            ? Entry("bench", ctx, ts, "message", entrySize, index)
                            : Entry(ctx, "user", ts, "message", entrySize, index);
                    tokens += Tokens(line);
                    int n = Encoding.UTF8.GetBytes(line, bytes);
                    part.Write(bytes, 0, n);
                    all.Write(bytes, 0, n);
                }
            }
            records.Add((file, start, end, tokens));
        }

        using var manifest = new FileStream(Path.Combine(tdir, "manifest.json"), FileMode.Create);
        using var w = new Utf8JsonWriter(manifest, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("version", 1);
        w.WriteString("active_partition", "active.jsonl");
        w.WriteStartArray("partitions");
        foreach (var r in records)
        {
            w.WriteStartObject();
            w.WriteString("file", r.File);
            w.WriteNumber("start_ts", r.Start);
            w.WriteNumber("end_ts", r.End);
            w.WriteNumber("entry_count", perPartition);
            w.WriteNumber("token_count", r.Tokens);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("rotation_policy");
        w.WriteNumber("max_entries", 1000);
        w.WriteNumber("max_age_seconds", 2592000);
        w.WriteNumber("max_tokens", 100000);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>
    /// `count` small contexts c0000…: an active partition of three entries with its lock file,
    /// an empty inbox with its lock, a summary; and state.json listing them all.
    /// </summary>
    public static List<string> ManyContexts(string store, int count)
    {
        var names = new List<string>();
        ulong now = Now;
        var state = new StringBuilder("{\n  \"contexts\": [");
        for (int i = 0; i < count; i++)
        {
            string name = $"c{i:D4}";
            names.Add(name);
            string dir = Path.Combine(store, "contexts", name);
            Directory.CreateDirectory(Path.Combine(dir, "transcript"));
            File.WriteAllText(Path.Combine(dir, "transcript", ".transcript.lock"), "");
            File.WriteAllText(Path.Combine(dir, "transcript", "active.jsonl"),
                Entry("system", name, now, "context_created", 0, 0, "Context created")
                + Entry("bench", name, now, "message", 200, i)
                + Entry(name, "user", now, "message", 300, i + 1));
            File.WriteAllText(Path.Combine(dir, "inbox.jsonl"), "");
            File.WriteAllText(Path.Combine(dir, ".inbox.lock"), "");
            File.WriteAllText(Path.Combine(dir, "summary.md"), $"# {name}\n\nA context of the benchmark.\n");
            state.Append(i == 0 ? "\n" : ",\n").Append(
                $"    {{\n      \"name\": \"{name}\",\n      \"created_at\": {now},\n      \"last_activity_at\": {now},\n" +
                "      \"destroy_after_seconds_inactive\": 0,\n      \"destroy_at\": 0\n    }");
        }
        state.Append("\n  ],\n  \"current_context\": \"default\",\n  \"previous_context\": null\n}");
        File.WriteAllText(Path.Combine(store, "state.json"), state.ToString());
        return names;
    }
}
