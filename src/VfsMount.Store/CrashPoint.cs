using VfsMount.Store.Posix;

namespace VfsMount.Store;

/// <summary>
/// Test-only fault injection: when VFSMOUNT_CRASH_AT names this point, the process ends at
/// once with _exit(70) — no flush, no finally — as a power cut or kill -9 would.
/// </summary>
public static class CrashPoint
{
    private static readonly string? Armed = Environment.GetEnvironmentVariable("VFSMOUNT_CRASH_AT");

    public static bool IsArmed(string name) => Armed == name;

    public static void Hit(string name)
    {
        if (Armed is not null && Armed == name) Libc.Exit(70);
    }
}
