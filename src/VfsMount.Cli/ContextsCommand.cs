using System.CommandLine;
using System.Text.Json;
using VfsMount.Store;
using VfsMount.Store.Transcript;

namespace VfsMount.Cli;

/// <summary>`vfsmount contexts`: one row per context with its entries, partitions and transcript bytes.</summary>
internal static class ContextsCommand
{
    public static Command Create()
    {
        var store = StoreOption.Create();
        var json = new Option<bool>("--json") { Description = "print a JSON array" };
        var command = new Command("contexts", "list the contexts with entries, partitions and sizes") { store, json };
        command.SetAction(r =>
        {
            var s = new ChibiStore(r.GetValue(store)!);
            var rows = s.ListContexts().Select(name => Describe(s, name)).ToList();
            if (r.GetValue(json))
            {
                using var w = new Utf8JsonWriter(Console.OpenStandardOutput(), new JsonWriterOptions { Indented = true });
                w.WriteStartArray();
                foreach (var row in rows)
                {
                    w.WriteStartObject();
                    w.WriteString("name", row.Name);
                    w.WriteNumber("entries", row.Entries);
                    w.WriteNumber("partitions", row.Partitions);
                    w.WriteNumber("bytes", row.Bytes);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.Flush();
                Console.WriteLine();
                return 0;
            }
            Console.WriteLine($"{"NAME",-24} {"ENTRIES",10} {"PARTITIONS",10} {"BYTES",14}");
            foreach (var row in rows)
                Console.WriteLine($"{row.Name,-24} {row.Entries,10} {row.Partitions,10} {row.Bytes,14}");
            return 0;
        });
        return command;
    }

    private sealed record Row(string Name, long Entries, int Partitions, long Bytes);

    /// <summary>Entries are parsed lines across all partitions (lines chibi would skip are not counted).</summary>
    private static Row Describe(ChibiStore store, string name)
    {
        var log = store.Transcript(name);
        var manifest = Manifest.Load(log.ManifestPath);
        var policy = log.Policy(manifest);
        var partitions = manifest is null ? [] : Manifest.Partitions(manifest);
        long entries = 0;
        foreach (var p in partitions)
        {
            string path = Path.Combine(log.Directory, p.File);
            if (File.Exists(path)) entries += PartitionStats.Scan(path, policy).Entries;
        }
        if (File.Exists(log.ActivePath)) entries += PartitionStats.Scan(log.ActivePath, policy).Entries;
        if (manifest is null && File.Exists(log.LegacyPath)) entries += PartitionStats.Scan(log.LegacyPath, policy).Entries;   // not migrated yet
        return new Row(name, entries, partitions.Count, log.Length);
    }
}
