using System.Text;
using System.Text.Json.Nodes;
using VfsMount.Store.Json;

namespace VfsMount.Tests.Store;

/// <summary>The on-disk layouts of STORE-FORMAT.md a store can be in.</summary>
public enum ChibiLayout
{
    /// <summary>chibi 0.5: partitioned transcript, current_context in state.json.</summary>
    V05,
    /// <summary>chibi 0.10: session.json, site.json, vfs/, registry records with cwd, entries with role.</summary>
    V010,
    /// <summary>Before partitions: a plain contexts/NAME/transcript.jsonl file, no transcript/.</summary>
    Legacy,
}

/// <summary>
/// Writes a store as the chibi of each layout leaves it, from STORE-FORMAT.md's facts alone
/// (none of the mount's store code; JSON written in chibi's two shapes): state.json, one context "work" with an anchor, a user prompt and
/// the agent's reply, its window context.jsonl in agreement, and the layout's own files.
/// </summary>
public static class ChibiFixtures
{
    public const string Context = "work";
    public const ulong CreatedAt = 1_767_225_600;   // 2026-01-01

    public static TheoryData<ChibiLayout> All => new() { ChibiLayout.V05, ChibiLayout.V010, ChibiLayout.Legacy };

    /// <summary>The transcript entries the fixture's context starts with (compact JSON lines).</summary>
    public static string[] Entries(ChibiLayout layout)
    {
        bool roles = layout == ChibiLayout.V010;
        return
        [
            Line(("id", "00000000-0000-4000-8000-000000000001"), ("timestamp", CreatedAt), ("from", "system"), ("to", Context),
                ("content", "Context created"), ("entry_type", "context_created")),
            Line([("id", "00000000-0000-4000-8000-000000000002"), ("timestamp", CreatedAt + 1), ("from", "alice"), ("to", Context),
                ("content", "What is on the agenda?"), ("entry_type", "message"), .. roles ? [("role", (object)"user")] : Array.Empty<(string, object)>()]),
            Line([("id", "00000000-0000-4000-8000-000000000003"), ("timestamp", CreatedAt + 2), ("from", Context), ("to", "user"),
                ("content", "The budget review."), ("entry_type", "message"), .. roles ? [("role", (object)"agent")] : Array.Empty<(string, object)>()]),
        ];
    }

    public static void Create(string root, ChibiLayout layout)
    {
        string ctx = Path.Combine(root, "contexts", Context);
        Directory.CreateDirectory(ctx);
        string lines = string.Concat(Entries(layout).Select(l => l + "\n"));
        if (layout == ChibiLayout.Legacy)
        {
            File.WriteAllText(Path.Combine(ctx, "transcript.jsonl"), lines);
        }
        else
        {
            Directory.CreateDirectory(Path.Combine(ctx, "transcript"));
            File.WriteAllText(Path.Combine(ctx, "transcript", "active.jsonl"), lines);
            File.WriteAllBytes(Path.Combine(ctx, "transcript", ".transcript.lock"), []);
        }
        File.WriteAllText(Path.Combine(ctx, "context.jsonl"), lines);
        File.WriteAllText(Path.Combine(ctx, "summary.md"), "# Agenda\n");
        File.WriteAllText(Path.Combine(ctx, "context_meta.json"), "{\"last_combined_prompt\":\"hi\"}");
        if (layout != ChibiLayout.V010)
        {
            File.WriteAllText(Path.Combine(ctx, "todos.md"), "- [ ] review\n");
            File.WriteAllText(Path.Combine(ctx, "goals.md"), "Ship it.\n");
        }

        var record = new JsonObject
        {
            ["name"] = Context,
            ["created_at"] = CreatedAt,
            ["last_activity_at"] = CreatedAt + 2,
            ["destroy_after_seconds_inactive"] = 0,
            ["destroy_at"] = 0,
        };
        var state = new JsonObject { ["contexts"] = new JsonArray(record) };
        if (layout == ChibiLayout.V010)
        {
            record["cwd"] = "/home/alice/project";
            Pretty(Path.Combine(root, "session.json"), new JsonObject { ["implied_context"] = Context, ["previous_context"] = null });
            Pretty(Path.Combine(root, "site.json"), new JsonObject { ["uuid"] = "5b0c1e9e-7d2a-4c1b-9a57-0c9d2f1e3a44", ["site_id"] = "testhost" });
            Write(root, "vfs/home/work/tasks/budget.task", "Review the budget\n");
            Write(root, "vfs/site/goals.md", "Keep the site tidy.\n");
            Write(root, "vfs/site/prompt.md", "Be brief.\n");
            Write(root, "vfs/flocks/registry.json", "{\n  \"flocks\": {\n    \"team\": [\n      \"work\"\n    ]\n  }\n}");
            Write(root, "vfs/flocks/team/goals.md", "Finish Q1.\n");
        }
        else
        {
            state["current_context"] = Context;
            state["previous_context"] = null;
        }
        Pretty(Path.Combine(root, "state.json"), state);
    }

    private static void Write(string root, string relative, string text)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private static void Pretty(string path, JsonObject o) => File.WriteAllBytes(path, JsonFormat.ToPretty(o));

    private static string Line(params (string Name, object Value)[] fields)
    {
        var o = new JsonObject();
        foreach (var (name, value) in fields) o[name] = value is string text ? JsonValue.Create(text) : JsonValue.Create((ulong)value);
        return Encoding.UTF8.GetString(JsonFormat.ToCompact(o));
    }
}
