using System.Globalization;
using VfsMount.Store.Transcript;

namespace VfsMount.Cli;

/// <summary>
/// The -o list, split into what vfsmount itself takes (storage thresholds, log_file,
/// log_level), what mount(8) and fstab add and means for itself (accepted and ignored), and
/// what goes to the kernel mount (allow_other, ro, default_permissions, …).
/// </summary>
internal sealed record MountOptions(List<string> Fuse, long? MaxEntries, long? MaxTokens, long? MaxAgeSeconds, string? LogFile, string? LogLevel)
{
    /// <summary>mount(8)'s own options: they say when and by whom to mount, not how.</summary>
    private static readonly HashSet<string> MountOwn = new(StringComparer.Ordinal)
    {
        "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "_netdev", "nofail", "rw",
    };

    /// <summary>Parses comma-separated lists; throws FormatException with a one-line reason.</summary>
    public static MountOptions Parse(IEnumerable<string> lists)
    {
        var o = new MountOptions([], null, null, null, null, null);
        foreach (var option in lists.SelectMany(l => l.Split(',', StringSplitOptions.RemoveEmptyEntries)))
        {
            var (key, value) = option.IndexOf('=') is var i and >= 0 ? (option[..i], option[(i + 1)..]) : (option, null);
            o = key switch
            {
                "partition_max_entries" => o with { MaxEntries = Number(key, value) },
                "partition_max_tokens" => o with { MaxTokens = Number(key, value) },
                "partition_max_age_seconds" => o with { MaxAgeSeconds = Number(key, value) },
                "log_file" => o with { LogFile = value is { Length: > 0 } ? value : throw new FormatException("-o log_file needs a file: log_file=/path") },
                "log_level" => o with { LogLevel = value is "error" or "warning" or "info" ? value : throw new FormatException("-o log_level is error, warning or info") },
                _ when MountOwn.Contains(key) || key.StartsWith("x-", StringComparison.Ordinal) => o,
                _ => WithFuse(o, option),
            };
        }
        return o;
    }

    private static MountOptions WithFuse(MountOptions o, string option)
    {
        o.Fuse.Add(option);
        return o;
    }

    private static long Number(string key, string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0
            ? n : throw new FormatException($"-o {key} needs a positive number: {key}=N");

    /// <summary>Thresholds given as options win over -o ones.</summary>
    public StorageOptions Storage(StorageOptions fromFlags) =>
        new(fromFlags.MaxEntries ?? MaxEntries, fromFlags.MaxTokens ?? MaxTokens, fromFlags.MaxAgeSeconds ?? MaxAgeSeconds);
}
