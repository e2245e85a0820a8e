using System.Text;
using System.Text.Json;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// Runs the model test's operations on a fresh filesystem with one context — through the kernel
/// (<see cref="MountDriver"/>) or on the view in-process (<see cref="ViewDriver"/>) — and reports
/// what each returned, as <see cref="FsModel"/> does. Dispose closes what is still open and
/// removes the filesystem.
/// </summary>
internal interface IFsDriver : IDisposable
{
    Outcome Run(Op op);

    /// <summary>What the filesystem logged so far: the daemon's log, or the view's.</summary>
    string Log { get; }
}

/// <summary>
/// What every driver checks of a whole log it read: bytes once read never change (they are a
/// prefix of every later read), the log ends with a whole line, and every line is JSON. The
/// outcome carries the entries' `content`, which the model predicts.
/// </summary>
internal sealed class LogReadCheck
{
    private readonly Dictionary<string, byte[]> _seen = new(StringComparer.Ordinal);

    public Outcome Check(string log, byte[] bytes)
    {
        var before = _seen.GetValueOrDefault(log, []);
        if (bytes.Length < before.Length || !bytes.AsSpan(0, before.Length).SequenceEqual(before))
            return new Outcome(0, Violation: $"{log}: bytes once read changed: {before.Length} B before, now {bytes.Length} B, first difference at {bytes.AsSpan().CommonPrefixLength(before)}");
        _seen[log] = bytes;
        if (bytes.Length > 0 && bytes[^1] != '\n') return new Outcome(0, Violation: $"{log}: ends in an unfinished line");
        var contents = new List<string>();
        foreach (var line in Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            try
            {
                using var doc = JsonDocument.Parse(line);
                contents.Add(doc.RootElement.TryGetProperty("content", out var c) ? c.GetString() ?? "" : "");
            }
            catch (JsonException)
            {
                return new Outcome(0, Violation: $"{log}: a line is not JSON: {line}");
            }
        }
        return new Outcome(0, Contents: contents);
    }
}
