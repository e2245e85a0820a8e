using System.Collections.Concurrent;

namespace VfsMount.Store;

/// <summary>
/// Test-only step control, the in-process sibling of <see cref="CrashPoint"/>: a test arms a
/// named step for one store (any path inside it), the first thread to reach that step there
/// stops until the test releases it, and the test runs the racing operation in between — a
/// race made deterministic instead of hoped for with sleeps. A hold may also make the step
/// fail with an errno (a write the disk refused). Unarmed, a hit costs one empty-dictionary check.
/// </summary>
public static class HoldPoint
{
    private static readonly ConcurrentDictionary<Hold, bool> Armed = new();
    private static int s_armed;   // Armed's count, read without ConcurrentDictionary.IsEmpty's bucket scan on every append

    /// <summary>One armed step: fires once, for the first hit inside its store.</summary>
    public sealed class Hold(string name, string scope, int failWith) : IDisposable
    {
        internal string Name { get; } = name;
        private readonly ManualResetEventSlim _reached = new(), _released = new();
        internal string Scope { get; } = Path.GetFullPath(scope).TrimEnd('/') + "/";
        internal int FailWith { get; } = failWith;

        /// <summary>Whether a thread stopped at the step within the timeout.</summary>
        public bool WaitReached(TimeSpan timeout) => _reached.Wait(timeout);

        internal void Stop()
        {
            _reached.Set();
            _released.Wait(TimeSpan.FromSeconds(30));   // a test that forgets to release cannot hang the daemon
        }

        public void Release() => _released.Set();

        public void Dispose()
        {
            if (Armed.TryRemove(this, out _)) Interlocked.Decrement(ref s_armed);
            Release();
        }
    }

    /// <summary>Arms the step for the store at scope; dispose (or Release) lets the held thread go on.</summary>
    public static Hold Arm(string name, string scope, int failWith = 0)
    {
        var hold = new Hold(name, scope, failWith);
        Interlocked.Increment(ref s_armed);
        Armed[hold] = true;
        return hold;
    }

    /// <summary>The step named name, at path: stops here when armed for path's store.</summary>
    public static void Hit(string name, string path) => Hit(name, path, 0);

    /// <summary>As Hit, for a step whose outcome is result: an armed failure replaces it.</summary>
    public static int Hit(string name, string path, int result)
    {
        if (Volatile.Read(ref s_armed) == 0) return result;
        string at = Path.GetFullPath(path) + "/";
        var hold = Armed.Keys.FirstOrDefault(h => h.Name == name && at.StartsWith(h.Scope, StringComparison.Ordinal));
        if (hold is null || !Armed.TryRemove(hold, out _)) return result;   // fires once
        Interlocked.Decrement(ref s_armed);
        hold.Stop();
        return hold.FailWith != 0 ? hold.FailWith : result;
    }
}
