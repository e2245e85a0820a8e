using VfsMount.Store.Posix;
using System.Text.Json;
using System.Text.Json.Nodes;
using VfsMount.Store.Documents;
using VfsMount.Store.Json;

namespace VfsMount.Store.Transcript;

/// <summary>One archived partition as the manifest records it.</summary>
public sealed record PartitionRecord(string File, ulong StartTs, ulong EndTs, long EntryCount, long? TokenCount, string? BloomFile, long? PromptCount = null);

/// <summary>
/// transcript/manifest.json (pretty JSON, absent until the first rotation). Kept as a JSON
/// tree so fields written by newer chibi versions survive our rewrites.
/// </summary>
public static class Manifest
{
    public const string ActiveName = "active.jsonl";

    /// <summary>Null when absent; EIO when it exists but is not a manifest (chibi stops on it too).</summary>
    public static JsonObject? Load(string path)
    {
        int errno = PosixFile.ReadAll(path, out byte[] bytes);
        if (errno == 2) return null;   // ENOENT: no rotation yet
        if (errno != 0) throw new PosixException(errno, $"read {path}");   // ELOOP, or EIO for a FIFO: never followed, never waited on
        try
        {
            if (JsonNode.Parse(bytes) is JsonObject m && m["partitions"] is JsonArray) return m;
        }
        catch (JsonException)
        {
        }
        throw new StoreException(5, $"{path}: not a valid manifest");
    }

    /// <summary>
    /// A new manifest. rotation_policy is required by chibi's Manifest struct (no serde default):
    /// without it chibi refuses the whole manifest, so every manifest we create carries one.
    /// </summary>
    public static JsonObject Create(RotationPolicy policy) => new()
    {
        ["version"] = 1,
        ["active_partition"] = ActiveName,
        ["partitions"] = new JsonArray(),
        ["rotation_policy"] = policy.ToManifestJson(),
    };

    public static List<PartitionRecord> Partitions(JsonObject manifest)
    {
        var list = new List<PartitionRecord>();
        foreach (var node in (JsonArray)manifest["partitions"]!)
        {
            if (node is not JsonObject p || p["file"]?.GetValue<string>() is not { } file) continue;
            list.Add(new PartitionRecord(file,
                Get<ulong>(p, "start_ts"), Get<ulong>(p, "end_ts"), Get<long>(p, "entry_count"),
                p.ContainsKey("token_count") ? Get<long>(p, "token_count") : null,
                p["bloom_file"]?.GetValue<string>(),
                p.ContainsKey("prompt_count") ? Get<long>(p, "prompt_count") : null));
        }
        return list;
    }

    public static JsonObject Record(PartitionRecord r)
    {
        var o = new JsonObject
        {
            ["file"] = r.File,
            ["start_ts"] = r.StartTs,
            ["end_ts"] = r.EndTs,
            ["entry_count"] = r.EntryCount,
        };
        if (r.PromptCount is { } prompts) o["prompt_count"] = prompts;   // chibi 0.10: right after entry_count
        if (r.TokenCount is { } t) o["token_count"] = t;
        if (r.BloomFile is { } b) o["bloom_file"] = b;
        return o;
    }

    /// <summary>chibi 0.10 records prompt_count: write it when the manifest already does or the store is 0.10.</summary>
    public static bool CountsPrompts(JsonObject manifest, bool chibi010) =>
        chibi010 || Partitions(manifest).Any(p => p.PromptCount is not null);

    public static void Save(string path, JsonObject manifest) => AtomicFile.Write(path, JsonFormat.ToPretty(manifest));

    private static T Get<T>(JsonObject o, string key) =>
        o[key] is JsonValue v && v.TryGetValue<T>(out var x) ? x : default!;
}
