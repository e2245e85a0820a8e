using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VfsMount.Tests.Store;

/// <summary>
/// What chibi itself does with a store, written from STORE-FORMAT.md alone: read the whole
/// transcript, rebuild a dirty context's window, and parse every file it reads — field by field,
/// with types, order and shape (compact or pretty) — so a test can show chibi would accept what
/// the mount wrote.
/// </summary>
public static class ChibiRules
{
    private static readonly string[] Anchors = ["context_created", "compaction", "archival"];
    private static readonly string[] EntryTypes =
        ["message", "tool_call", "tool_result", "context_created", "compaction", "archival", "system_prompt_changed", "control_transfer"];

    /// <summary>The whole transcript: the manifest's partitions in order (missing skipped), then active.jsonl — or the legacy file.</summary>
    public static List<string> TranscriptLines(string contextDir)
    {
        string dir = Path.Combine(contextDir, "transcript");
        string legacy = Path.Combine(contextDir, "transcript.jsonl");
        if (File.Exists(legacy) && !File.Exists(Path.Combine(dir, "manifest.json"))) return Lines(legacy);
        var lines = new List<string>();
        string manifest = Path.Combine(dir, "manifest.json");
        if (File.Exists(manifest))
            foreach (var p in JsonNode.Parse(File.ReadAllBytes(manifest))!["partitions"]!.AsArray())
                if (Path.Combine(dir, p!["file"]!.GetValue<string>()) is var file && File.Exists(file)) lines.AddRange(Lines(file));
        string active = Path.Combine(dir, "active.jsonl");
        if (File.Exists(active)) lines.AddRange(Lines(active));
        return lines;
    }

    /// <summary>
    /// chibi's load of a context: when `.dirty` is there, context.jsonl is rebuilt from the
    /// transcript — the last context_created, compaction or archival anchor and every entry
    /// after it except system_prompt_changed — and `.dirty` is deleted. True when it rebuilt.
    /// Lines that do not parse are skipped, as chibi does.
    /// </summary>
    public static bool LoadContext(string contextDir)
    {
        string dirty = Path.Combine(contextDir, ".dirty");
        if (!File.Exists(dirty)) return false;
        var entries = new List<(string Line, string Type)>();
        foreach (var line in TranscriptLines(contextDir))
            if (TryParse(line) is { } e && e["entry_type"] is JsonValue t && t.TryGetValue<string>(out var type)) entries.Add((line, type));
        int start = entries.FindLastIndex(e => Anchors.Contains(e.Type));
        var window = entries.Skip(Math.Max(start, 0)).Where(e => e.Type != "system_prompt_changed").Select(e => e.Line + "\n");
        File.WriteAllText(Path.Combine(contextDir, "context.jsonl"), string.Concat(window));
        File.Delete(dirty);
        return true;
    }

    /// <summary>context.jsonl's entries, as chibi sends them to the model.</summary>
    public static List<JsonObject> Window(string contextDir) =>
        Lines(Path.Combine(contextDir, "context.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    /// <summary>Fails the test with every file of the store chibi (of this layout) would not read as written.</summary>
    public static void AssertReadable(string root, ChibiLayout layout)
    {
        var problems = new List<string>();
        void Check(string path, Action<List<string>> check)
        {
            var mine = new List<string>();
            try
            {
                check(mine);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
            {
                mine.Add(e.Message);
            }
            problems.AddRange(mine.Select(p => $"{Path.GetRelativePath(root, path)}: {p}"));
        }

        string state = Path.Combine(root, "state.json");
        if (File.Exists(state)) Check(state, p => StateFile(Pretty(state, p), layout, p));
        string session = Path.Combine(root, "session.json");
        if (File.Exists(session)) Check(session, p => Session(Pretty(session, p), p));
        foreach (var ctx in Directory.GetDirectories(Path.Combine(root, "contexts")))
        {
            string dir = Path.Combine(ctx, "transcript");
            string manifest = Path.Combine(dir, "manifest.json");
            if (File.Exists(manifest)) Check(manifest, p => Manifest(Pretty(manifest, p), layout, dir, p));
            foreach (var file in Directory.Exists(dir) ? Directory.GetFiles(dir, "*.jsonl", SearchOption.AllDirectories) : [])
                Check(file, p => CompactLines(file, p, e => Entry(e, inbox: false, p)));
            string legacy = Path.Combine(ctx, "transcript.jsonl");
            if (File.Exists(legacy)) Check(legacy, p => CompactLines(legacy, p, e => Entry(e, inbox: false, p)));
            foreach (var bloom in Directory.Exists(dir) ? Directory.GetFiles(dir, "*.bloom", SearchOption.AllDirectories) : [])
                Check(bloom, p => Bloom(Compact(File.ReadAllBytes(bloom), p), p));
            string inbox = Path.Combine(ctx, "inbox.jsonl");
            if (File.Exists(inbox)) Check(inbox, p => CompactLines(inbox, p, e => Entry(e, inbox: true, p)));
            string window = Path.Combine(ctx, "context.jsonl");
            if (File.Exists(window)) Check(window, p => { foreach (var l in Lines(window)) if (TryParse(l) is null) p.Add($"not a JSON object: {l}"); });
            string dirty = Path.Combine(ctx, ".dirty");
            if (File.Exists(dirty) && new FileInfo(dirty).Length != 0) problems.Add($"{dirty}: not empty");
        }
        Assert.True(problems.Count == 0, "chibi would not read:\n" + string.Join('\n', problems));
    }

    private static void StateFile(JsonObject state, ChibiLayout layout, List<string> p)
    {
        Names(state, layout == ChibiLayout.V010 ? ["contexts"] : ["contexts", "current_context", "previous_context"], p);
        if (layout != ChibiLayout.V010)
        {
            Type(state, "current_context", JsonValueKind.String, p);
            Nullable(state, "previous_context", JsonValueKind.String, p);
        }
        foreach (var node in state["contexts"]!.AsArray())
        {
            var r = node!.AsObject();
            Names(r, ["name", "created_at", "last_activity_at", "destroy_after_seconds_inactive", "destroy_at"], p);
            Type(r, "name", JsonValueKind.String, p);
            foreach (var k in (string[])["created_at", "last_activity_at", "destroy_after_seconds_inactive", "destroy_at"]) Unsigned(r, k, p);
            if (r.ContainsKey("cwd")) Nullable(r, "cwd", JsonValueKind.String, p);
        }
    }

    private static void Session(JsonObject session, List<string> p)
    {
        foreach (var k in (string[])["implied_context", "previous_context"])
            if (session.ContainsKey(k)) Nullable(session, k, JsonValueKind.String, p);
    }

    private static void Manifest(JsonObject m, ChibiLayout layout, string dir, List<string> p)
    {
        Names(m, ["version", "active_partition", "partitions", "rotation_policy"], p);
        Unsigned(m, "version", p);
        Type(m, "active_partition", JsonValueKind.String, p);
        foreach (var node in m["partitions"]!.AsArray())
        {
            var r = node!.AsObject();
            string[] order = ["file", "start_ts", "end_ts", "entry_count", "prompt_count", "token_count", "bloom_file"];
            var names = r.Select(kv => kv.Key).ToList();
            if (!names.SequenceEqual(order.Where(names.Contains))) p.Add($"partition fields out of order: {string.Join(',', names)}");
            if (layout == ChibiLayout.V010 && !r.ContainsKey("prompt_count")) p.Add($"partition {r["file"]} lacks prompt_count (chibi 0.10)");
            Type(r, "file", JsonValueKind.String, p);
            foreach (var k in (string[])["start_ts", "end_ts", "entry_count", "prompt_count", "token_count"]) if (r.ContainsKey(k)) Unsigned(r, k, p);
            if (r["prompt_count"] is { } pc && Path.Combine(dir, r["file"]!.GetValue<string>()) is var file && File.Exists(file))
            {
                int users = Lines(file).Select(TryParse).Count(e => e?["entry_type"]?.GetValue<string>() == "message" && RoleOf(e) == "user");
                if (pc.GetValue<long>() != users) p.Add($"partition {r["file"]}: prompt_count {pc} but {users} user messages");
            }
        }
        var policy = m["rotation_policy"]!.AsObject();
        Names(policy, ["max_entries", "max_age_seconds"], p);
        foreach (var kv in policy) Unsigned(policy, kv.Key, p);
    }

    /// <summary>chibi 0.10's reading of a message without role: the agent's when sent to "user", else the user's.</summary>
    public static string? RoleOf(JsonObject e) =>
        e["role"]?.GetValue<string>() ?? (e["to"]?.GetValue<string>() == "user" ? "agent" : "user");

    private static void Entry(JsonObject e, bool inbox, List<string> p)
    {
        string[] required = inbox ? ["id", "timestamp", "from", "to", "content"] : ["id", "timestamp", "from", "to", "content", "entry_type"];
        Names(e, required, p);
        Unsigned(e, "timestamp", p);
        foreach (var k in required.Where(k => k != "timestamp")) Type(e, k, JsonValueKind.String, p);
        if (inbox) return;
        if (e["entry_type"] is JsonValue t && !EntryTypes.Contains(t.GetValue<string>())) p.Add($"unknown entry_type {t}");
        if (e.ContainsKey("role") && e["role"]?.GetValue<string>() is not ("user" or "agent" or "system")) p.Add($"bad role {e["role"]}");
        if (e.ContainsKey("flow_control")) Type(e, "flow_control", JsonValueKind.True, p);   // omitted when false
        if (e.ContainsKey("metadata")) Type(e, "metadata", JsonValueKind.Object, p);
    }

    private static void Bloom(JsonObject b, List<string> p)
    {
        Names(b, ["bits", "num_hashes", "hasher"], p);
        foreach (var word in b["bits"]!["bits"]!.AsArray()) if (word is not JsonValue v || !v.TryGetValue<ulong>(out _)) p.Add("bits must be u64 words");
        Unsigned(b, "num_hashes", p);
        var keys = b["hasher"]!["hasher"]!["hasher"]!.AsObject();
        Names(keys, ["k0", "k1", "length", "state", "tail", "ntail", "_marker"], p);
    }

    /// <summary>The first fields must be exactly these, in this order.</summary>
    private static void Names(JsonObject o, string[] first, List<string> p)
    {
        var names = o.Select(kv => kv.Key).Take(first.Length).ToArray();
        if (!names.SequenceEqual(first)) p.Add($"fields [{string.Join(',', names)}], chibi expects [{string.Join(',', first)}] first");
    }

    private static void Type(JsonObject o, string key, JsonValueKind kind, List<string> p)
    {
        if (o[key]?.GetValueKind() != kind) p.Add($"\"{key}\" must be {kind}, is {o[key]?.GetValueKind().ToString() ?? "absent"}");
    }

    private static void Nullable(JsonObject o, string key, JsonValueKind kind, List<string> p)
    {
        if (!o.ContainsKey(key)) p.Add($"\"{key}\" is missing");
        else if (o[key] is not null) Type(o, key, kind, p);
    }

    private static void Unsigned(JsonObject o, string key, List<string> p)
    {
        if (o[key] is not JsonValue v || !v.TryGetValue<ulong>(out _)) p.Add($"\"{key}\" must be an unsigned integer, is {o[key]?.ToJsonString() ?? "absent"}");
    }

    private static JsonObject Pretty(string path, List<string> p)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var o = JsonNode.Parse(bytes)!.AsObject();
        if (!bytes.AsSpan().SequenceEqual(Write(o, indented: true))) p.Add("not pretty JSON (2-space indent, no trailing newline)");
        return o;
    }

    private static JsonObject Compact(byte[] bytes, List<string> p)
    {
        var o = JsonNode.Parse(bytes)!.AsObject();
        if (!bytes.AsSpan().SequenceEqual(Write(o, indented: false))) p.Add($"not compact JSON: {Encoding.UTF8.GetString(bytes)}");
        return o;
    }

    private static void CompactLines(string path, List<string> p, Action<JsonObject> check)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length > 0 && bytes[^1] != (byte)'\n') p.Add("ends with an unfinished line");
        foreach (var line in Lines(path)) check(Compact(Encoding.UTF8.GetBytes(line), p));
    }

    /// <summary>serde_json's two shapes, written by the base library alone.</summary>
    private static byte[] Write(JsonNode node, bool indented)
    {
        var buffer = new MemoryStream();
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = indented, IndentSize = 2, NewLine = "\n" };
        using (var w = new Utf8JsonWriter(buffer, options)) node.WriteTo(w);
        return buffer.ToArray();
    }

    private static JsonObject? TryParse(string line)
    {
        try
        {
            return JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static List<string> Lines(string path) =>
        File.ReadAllText(path, new UTF8Encoding(false, true)).Split('\n').Where(l => l.Length > 0).ToList();
}
