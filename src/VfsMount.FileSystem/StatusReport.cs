using System.Text.Json;
using VfsMount.Store;

namespace VfsMount.FileSystem;

/// <summary>
/// The content of MNT/.vfsmount/status.json (SPEC §2): the mount's counters since it started,
/// in total and per context, generated afresh for each open.
/// </summary>
public static class StatusReport
{
    public static byte[] Generate(ChibiStore store, string mountPoint, int openHandles)
    {
        var counters = store.Counters;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("uptime_s", (long)(DateTimeOffset.UtcNow - counters.Since).TotalSeconds);
            json.WriteString("store", store.Root);
            json.WriteString("mountpoint", mountPoint);
            json.WriteNumber("pid", Environment.ProcessId);
            WriteCounters(json, counters.Total);
            json.WriteNumber("open_handles", openHandles);
            json.WriteStartObject("contexts");
            foreach (var name in store.ListContexts())
            {
                json.WriteStartObject(name);
                WriteCounters(json, counters.Context(name));
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void WriteCounters(Utf8JsonWriter json, ActivityCounters c)
    {
        json.WriteNumber("appends", c.Appends);
        json.WriteNumber("append_bytes", c.AppendBytes);
        json.WriteNumber("commits", c.Commits);
        json.WriteNumber("rotations", c.Rotations);
        json.WriteStartObject("refusals");
        foreach (var (errno, count) in c.Refusals) json.WriteNumber(errno, count);
        json.WriteEndObject();
        json.WriteStartObject("quarantine");
        json.WriteNumber("items", c.QuarantineItems);
        json.WriteNumber("bytes", c.QuarantineBytes);
        json.WriteEndObject();
    }
}
