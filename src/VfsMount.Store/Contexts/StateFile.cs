using VfsMount.Store.Posix;
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
    /// <summary>The registry, or a fresh one as that chibi writes it (0.10 keeps the current context in session.json).</summary>
    public static JsonObject Load(string path, bool chibi010 = false)
    {
        int errno = PosixFile.ReadAll(path, out byte[] bytes);
        // Rewriting over a planted symlink or FIFO would replace it: refused instead (ELOOP / EIO).
        if (errno is not (0 or 2)) throw new PosixException(errno, $"read {path}");
        try
        {
            if (errno == 0 && JsonNode.Parse(bytes) is JsonObject o && o["contexts"] is JsonArray) return o;
        }
        catch (JsonException)
        {
        }
        var fresh = new JsonObject { ["contexts"] = new JsonArray() };
        if (!chibi010)
        {
            fresh["current_context"] = "default";
            fresh["previous_context"] = null;
        }
        return fresh;
    }

    public static void Update(string path, Action<JsonObject> change, bool chibi010 = false)
    {
        var state = Load(path, chibi010);
        change(state);
        AtomicFile.Write(path, JsonFormat.ToPretty(state));
    }

    /// <param name="cwd">chibi 0.10's record of the creating process's working directory; omitted when null.</param>
    public static JsonObject Record(string name, long now, string? cwd = null)
    {
        var record = new JsonObject
        {
            ["name"] = name,
            ["created_at"] = now,
            ["last_activity_at"] = now,
            ["destroy_after_seconds_inactive"] = 0,
            ["destroy_at"] = 0,
        };
        if (cwd is not null) record["cwd"] = cwd;
        return record;
    }

    public static int IndexOf(JsonObject state, string name)
    {
        var list = (JsonArray)state["contexts"]!;
        for (int i = 0; i < list.Count; i++)
            if (list[i]?["name"]?.GetValue<string>() == name) return i;
        return -1;
    }
}
