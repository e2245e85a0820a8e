using VfsMount.FileSystem.Handles;
using VfsMount.Store;

namespace VfsMount.FileSystem;

/// <summary>
/// Every refusal is one log line (context, file, reason) and, for content refused for
/// validation or size, a copy in the store's quarantine: nothing a user wrote is silently lost.
/// </summary>
public sealed class Refusals(Quarantine quarantine, TextWriter log, MountCounters? counters = null)
{
    public int Refuse(string context, string file, int errno, string reason, byte[]? content = null)
    {
        counters?.Refused(context, ErrnoName(errno));
        string kept = content is null ? "" : Keep(context, file, reason, content);
        lock (log) log.WriteLine(OneLine($"vfsmount: refused {context}/{file}: {reason} ({ErrnoName(errno)}){kept}"));
        return errno;
    }

    /// <summary>
    /// A name may hold any byte but '/' and NUL: control characters ('\n' above all) are written
    /// as \xNN so that every refusal stays one line of the log and cannot forge another.
    /// </summary>
    public static string OneLine(string text)
    {
        if (!text.Any(char.IsControl)) return text;
        var b = new System.Text.StringBuilder(text.Length + 8);
        foreach (char c in text) b.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString());
        return b.ToString();
    }

    internal int Refuse(LogTarget target, int errno, string reason, byte[]? content = null) =>
        Refuse(target.Context, target.FileName, errno, reason, content);

    private string Keep(string context, string file, string reason, byte[] content)
    {
        try
        {
            string? path = quarantine.Keep(context, file, reason, content);
            return path is null ? "; too large to quarantine" : $"; kept in {path}";
        }
        catch (IOException e)
        {
            return $"; not quarantined: {e.Message}";
        }
    }

    public static string ErrnoName(int errno) => errno switch
    {
        Errno.EPERM => "EPERM",
        Errno.EINVAL => "EINVAL",
        Errno.EFBIG => "EFBIG",
        Errno.ENOSPC => "ENOSPC",
        Errno.EROFS => "EROFS",
        Errno.EEXIST => "EEXIST",
        Errno.EBUSY => "EBUSY",
        Errno.ENOTEMPTY => "ENOTEMPTY",
        Errno.ENAMETOOLONG => "ENAMETOOLONG",
        _ => $"errno {errno}",
    };
}
