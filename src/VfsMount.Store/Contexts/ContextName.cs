using System.Text;

namespace VfsMount.Store.Contexts;

/// <summary>chibi's context names: ASCII letters, digits, '-', '_'; not empty; no leading '-'; not "system".</summary>
public static class ContextName
{
    public const int MaxBytes = 255;

    /// <summary>0 when valid, else EINVAL or ENAMETOOLONG.</summary>
    public static int Check(string name)
    {
        if (Encoding.UTF8.GetByteCount(name) > MaxBytes) return 36;   // ENAMETOOLONG
        if (name.Length == 0 || name[0] == '-' || name.Equals("system", StringComparison.OrdinalIgnoreCase)) return 22;
        foreach (char c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')) return 22;
        return 0;
    }

    public static bool IsValid(string name) => Check(name) == 0;
}
