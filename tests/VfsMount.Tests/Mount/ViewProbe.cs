using System.Diagnostics;
using System.Text.Json;

namespace VfsMount.Tests.Mount;

/// <summary>
/// What a user sees through the mount, gathered with real programs: errnos from python,
/// `ls -a` listings, stray files in the store. Shared by the document, scratch, context and
/// error-row tests.
/// </summary>
internal static class ViewProbe
{
    /// <summary>Runs python statements (relative paths are inside the mount); the errno of the OSError they raise, else 0.</summary>
    public static int Errno(MountedStore m, string statements)
    {
        string body = string.Join('\n', statements.Split('\n').Select(l => "    " + l));
        var (exit, stdout, stderr) = m.Python($"try:\n{body}\n    print(0)\nexcept OSError as e:\n    print(e.errno)");
        Assert.True(exit == 0, $"python failed ({exit}): {stderr}\ndaemon log:\n{m.Log}");
        return int.Parse(stdout.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>`ls -a` of a mount directory, without . and ..</summary>
    public static string[] Ls(MountedStore m, string dir) =>
        m.Ok($"ls -a1 -- '{dir}'").Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(n => n is not "." and not "..").ToArray();

    /// <summary>Names in a store directory that an editor or the mount leaves behind when something went wrong.</summary>
    public static string[] StrayFiles(string storeDir) =>
        Directory.EnumerateFileSystemEntries(storeDir).Select(Path.GetFileName)
            .Where(n => n!.StartsWith(".vfsmount-tmp-", StringComparison.Ordinal) || n == "4913"
                || n.EndsWith(".swp", StringComparison.Ordinal) || n.EndsWith('~'))
            .ToArray()!;

    /// <summary>Mount-visible names that must never appear: staged copies, vim's probe and swap files.</summary>
    public static string[] StrayNames(IEnumerable<string> names) =>
        names.Where(n => n.StartsWith(".vfsmount-tmp-", StringComparison.Ordinal) || n == "4913"
            || n.EndsWith(".swp", StringComparison.Ordinal) || n.EndsWith('~')).ToArray();

    /// <summary>Polls until the condition holds or the timeout passes; returns whether it held.</summary>
    public static bool Within(TimeSpan timeout, Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (condition()) return true;
            if (clock.Elapsed > timeout) return false;
            Thread.Sleep(25);
        }
    }

    public static int QuarantineCount(MountedStore m) =>
        Directory.Exists(m.StorePath(".vfsmount", "quarantine"))
            ? Directory.GetFiles(m.StorePath(".vfsmount", "quarantine"), "*.bin").Length
            : 0;

    /// <summary>The content of the newest quarantined copy.</summary>
    public static byte[] LastQuarantined(MountedStore m) =>
        File.ReadAllBytes(Directory.GetFiles(m.StorePath(".vfsmount", "quarantine"), "*.bin").Order(StringComparer.Ordinal).Last());

    public static string[] StateNames(string stateJson)
    {
        using var doc = JsonDocument.Parse(stateJson);
        return doc.RootElement.GetProperty("contexts").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray();
    }
}
