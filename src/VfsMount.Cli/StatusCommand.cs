using System.CommandLine;
using System.Text.Json;

namespace VfsMount.Cli;

/// <summary>`vfsmount status MOUNTPOINT [--json]`: the live counters of MNT/.vfsmount/status.json, as a table or as they are.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var mountPoint = new Argument<string>("MOUNTPOINT");
        var json = new Option<bool>("--json") { Description = "print status.json as it is" };
        var command = new Command("status", "the live counters of a mount: appends, commits, rotations, refusals, quarantine") { mountPoint, json };
        command.SetAction(r =>
        {
            string path = Path.Combine(Path.GetFullPath(r.GetValue(mountPoint)!), ".vfsmount", "status.json");
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"vfsmount: {path}: {e.Message} (is {r.GetValue(mountPoint)} a vfsmount mount?)");
                return 1;
            }
            if (r.GetValue(json))
            {
                Console.Write(text);
                return 0;
            }
            Print(JsonDocument.Parse(text).RootElement);
            return 0;
        });
        return command;
    }

    private static void Print(JsonElement s)
    {
        Console.WriteLine($"store         {s.GetProperty("store").GetString()}");
        Console.WriteLine($"mountpoint    {s.GetProperty("mountpoint").GetString()}");
        Console.WriteLine($"uptime        {TimeSpan.FromSeconds(s.GetProperty("uptime_s").GetInt64())}");
        Console.WriteLine($"open handles  {s.GetProperty("open_handles").GetInt64()}");
        Console.WriteLine();
        Console.WriteLine($"{"CONTEXT",-24} {"APPENDS",8} {"BYTES",12} {"COMMITS",8} {"ROTATIONS",9} {"QUARANTINED",11}  REFUSALS");
        Row("(all)", s);
        foreach (var c in s.GetProperty("contexts").EnumerateObject()) Row(c.Name, c.Value);
    }

    private static void Row(string name, JsonElement c)
    {
        string refusals = string.Join(' ', c.GetProperty("refusals").EnumerateObject().Select(r => $"{r.Name}={r.Value.GetInt64()}"));
        Console.WriteLine($"{name,-24} {c.GetProperty("appends").GetInt64(),8} {c.GetProperty("append_bytes").GetInt64(),12} {c.GetProperty("commits").GetInt64(),8} " +
            $"{c.GetProperty("rotations").GetInt64(),9} {c.GetProperty("quarantine").GetProperty("items").GetInt64(),11}  {(refusals.Length == 0 ? "-" : refusals)}");
    }
}
