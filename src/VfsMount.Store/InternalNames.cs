using System.Text.RegularExpressions;
using VfsMount.Store.Documents;

namespace VfsMount.Store;

/// <summary>Which directory of the store a name is in: internal names are internal only where chibi or the mount puts them (SPEC §2.3).</summary>
public enum StorePlace
{
    /// <summary>STORE/ itself.</summary>
    Root,
    /// <summary>contexts/&lt;name&gt;/, the context's top directory.</summary>
    ContextTop,
    /// <summary>contexts/&lt;name&gt;/transcript/.</summary>
    Transcript,
    /// <summary>transcript/partitions/ (and anything else below transcript/).</summary>
    BelowTranscript,
    /// <summary>vfs/ and every directory below it: chibi writes each of its files atomically.</summary>
    Vfs,
    /// <summary>A directory a user made in a context: nothing there is the store's.</summary>
    Scratch,
}

/// <summary>
/// The names the store keeps for itself — lock files, the dirty marker, chibi's and the mount's
/// commit temp files — by where they are. Everywhere else the same names are a user's files:
/// the view lists and serves them, and recovery never deletes them.
/// </summary>
public static partial class InternalNames
{
    /// <summary>chibi's temp files: the last extension replaced by tmp.&lt;number&gt; (`state.json` → `state.tmp.123`).</summary>
    [GeneratedRegex(@"^(?<stem>.+)\.tmp\.\d+$")]
    private static partial Regex ChibiTemp();

    /// <summary>The stems of what chibi replaces atomically in a context directory (`.lock` by chibi 0.10's heartbeat).</summary>
    private static readonly HashSet<string> ContextStems =
        ["summary", "todos", "goals", "reflection", "system_prompt", "context", "context_meta", "local", ".lock"];

    /// <summary>The stems of what chibi replaces atomically at the store root.</summary>
    private static readonly HashSet<string> RootStems = ["state", "session", "site"];

    private static readonly HashSet<string> ContextFiles = [".lock", ".inbox.lock", ".dirty", TextLog.LockName];

    public const string TranscriptLockName = ".transcript.lock";

    /// <summary>Whether name, in a directory of that place, is one of the store's own files.</summary>
    public static bool IsInternal(StorePlace place, string name) => place switch
    {
        StorePlace.Scratch => false,
        StorePlace.ContextTop => ContextFiles.Contains(name) || IsMountTemp(name) || IsChibiTemp(place, name),
        StorePlace.Transcript => name == TranscriptLockName || IsMountTemp(name) || IsChibiTemp(place, name),
        _ => IsMountTemp(name) || IsChibiTemp(place, name),
    };

    /// <summary>The mount's temp and staging files (<see cref="AtomicFile.NewTempPath"/>), which it puts only beside what it commits.</summary>
    public static bool IsMountTemp(string name) => name.StartsWith(AtomicFile.TempPrefix, StringComparison.Ordinal);

    /// <summary>
    /// A temp name of chibi's atomic write there: in a context's top directory and at the root only
    /// for the stems of chibi's own files there; in transcript/ and vfs/, chibi's alone, for any stem.
    /// </summary>
    public static bool IsChibiTemp(StorePlace place, string name)
    {
        var match = ChibiTemp().Match(name);
        if (!match.Success) return false;
        string stem = match.Groups["stem"].Value;
        return place switch
        {
            StorePlace.ContextTop => ContextStems.Contains(stem),
            StorePlace.Root => RootStems.Contains(stem),
            StorePlace.Transcript or StorePlace.BelowTranscript or StorePlace.Vfs => true,
            _ => false,
        };
    }
}
