using System.CommandLine;
using VfsMount.Store;
using VfsMount.Store.Json;
using VfsMount.Store.Transcript;

namespace VfsMount.Cli;

/// <summary>
/// `vfsmount append CONTEXT [--inbox]`: appends each JSON line of standard input to the
/// transcript (or inbox) through the store, one durable append per line — the same path the
/// mount takes, usable without a mount (scripts, and the cross-process tests).
/// </summary>
internal static class AppendCommand
{
    public static Command Create()
    {
        var store = StoreOption.Create();
        var context = new Argument<string>("context");
        var inbox = new Option<bool>("--inbox") { Description = "append to the inbox instead of the transcript" };
        var maxEntries = new Option<long?>("--partition-max-entries");
        var command = new Command("append", "append JSON lines from standard input to a context's transcript") { store, context, inbox, maxEntries };
        command.SetAction(r =>
        {
            var s = new ChibiStore(r.GetValue(store)!, new StorageOptions(MaxEntries: r.GetValue(maxEntries)));
            string name = r.GetValue(context)!;
            if (!s.ContextExists(name))
            {
                Console.Error.WriteLine($"vfsmount append: no context \"{name}\" in {s.Root}");
                return 2;
            }
            string from = Environment.UserName;
            int failed = 0;
            // Lines are read as bytes, not text: invalid UTF-8 must reach validation, not become U+FFFD.
            foreach (var line in ReadLines(Console.OpenStandardInput()))
            {
                try
                {
                    ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                    if (r.GetValue(inbox)) s.Inbox(name).Append([EntryCompleter.Inbox(line, name, from, now)]);
                    else s.Transcript(name).Append([EntryCompleter.Transcript(line, name, from, now)]);
                }
                catch (StoreException e)
                {
                    Console.Error.WriteLine($"vfsmount append: {name}: {e.Message}");
                    failed++;
                }
            }
            return failed == 0 ? 0 : 1;
        });
        return command;
    }

    private static IEnumerable<byte[]> ReadLines(Stream input)
    {
        var line = new MemoryStream();
        int b;
        using var buffered = new BufferedStream(input, 1 << 16);
        while ((b = buffered.ReadByte()) >= 0)
        {
            if (b != '\n')
            {
                line.WriteByte((byte)b);
                continue;
            }
            yield return line.ToArray();
            line.SetLength(0);
        }
        if (line.Length > 0) yield return line.ToArray();
    }
}
