using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace VfsMount.Store.Posix;

/// <summary>Login names by uid (getpwuid_r), cached: a log line's "from" is the writer's login name.</summary>
public static class UserNames
{
    private static readonly ConcurrentDictionary<uint, string> Cache = new();

    public static string Of(uint uid) => Cache.GetOrAdd(uid, Lookup);

    private static unsafe string Lookup(uint uid)
    {
        byte* pwd = stackalloc byte[256];      // struct passwd; pw_name is its first field
        byte* buf = stackalloc byte[16384];
        byte* result = null;
        if (Libc.GetPwUidR(uid, pwd, buf, 16384, &result) == 0 && result != null)
        {
            byte* name = *(byte**)result;
            if (name != null) return Marshal.PtrToStringUTF8((nint)name) ?? uid.ToString();
        }
        return uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
