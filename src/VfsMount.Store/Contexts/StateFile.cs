using System.Text.Json;
using System.Text.Json.Nodes;
using VfsMount.Store.Documents;
using VfsMount.Store.Json;

namespace VfsMount.Store.Contexts;

/// <summary>
/// state.json, chibi's registry of contexts (pretty JSON, replaced atomically, no lock).
/// Edited as a JSON tree so fields of newer chibi versions survive.
/// </summary>
public static class StateFile
{
    public static JsonObject Load(string path)
    {
        try
        {
            if (JsonNode.Parse(File.ReadAllBytes(path)) is JsonObject o && o["contexts"] is JsonArray) return o;
        }
        catch (Exception e) when (e is FileNotFoundException or JsonException)
        {
        }
        return new JsonObject
        {
            ["contexts"] = new JsonArray(),
            ["current_context"] = "default",
            ["previous_context"] = null,
        };
    }

    public static void Update(string path, Action<JsonObject> change)
    {
        var state = Load(path);
        change(state);
        AtomicFile.Write(path, JsonFormat.ToPretty(state));
    }

    public static JsonObject Record(string name, long now) => new()
    {
        ["name"] = name,
        ["created_at"] = now,
        ["last_activity_at"] = now,
        ["destroy_after_seconds_inactive"] = 0,
        ["destroy_at"] = 0,
    };

    public static int IndexOf(JsonObject state, string name)
    {
        var list = (JsonArray)state["contexts"]!;
        for (int i = 0; i < list.Count; i++)
            if (list[i]?["name"]?.GetValue<string>() == name) return i;
        return -1;
    }
}
