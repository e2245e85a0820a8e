namespace VfsMount.Cli;

/// <summary>
/// Test-only: when VFSMOUNT_SIGNAL_AT names this point, the process sends itself SIGTERM there
/// and waits (at most 10 s) until the signal has done its work — so a test puts a signal in a
/// window that a real one hits only sometimes. The twin of the store's CrashPoint.
/// </summary>
internal static class SignalPoint
{
    private const int SIGTERM = 15;
    private static readonly string? Armed = Environment.GetEnvironmentVariable("VFSMOUNT_SIGNAL_AT");

    public static void Hit(string name, Func<bool> handled)
    {
        if (Armed != name) return;
        Posix.Kill(Environment.ProcessId, SIGTERM);
        SpinWait.SpinUntil(handled, TimeSpan.FromSeconds(10));
    }
}
