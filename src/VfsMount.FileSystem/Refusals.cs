using VfsMount.FileSystem.Handles;
using VfsMount.Store;

namespace VfsMount.FileSystem;

/// <summary>
/// Every refusal is one log line (context, file, reason) and, for content refused for
/// validation or size, a copy in the store's quarantine: nothing a user wrote is silently lost.
/// </summary>
public sealed class Refusals(Quarantine quarantine, TextWriter log)
{
    public int Refuse(string context, string file, int errno, string reason, byte[]? content = null)
    {
        string kept = content is null ? "" : Keep(context, file, reason, content);
        lock (log) log.WriteLine($"vfsmount: refused {context}/{file}: {reason} ({ErrnoName(errno)}){kept}");
        return errno;
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

    private static string ErrnoName(int errno) => errno switch
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
