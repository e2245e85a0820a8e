using System.Text.Json;
using Xunit.Abstractions;

namespace VfsMount.Tests.Mount;

/// <summary>
/// The measurement of issue 10, through the kernel: `rmdir` through the mount of a fresh
/// context racing chibi's first appends into the store. Whatever wins, an acknowledged line
/// is never deleted: either rmdir fails (ENOTEMPTY) and the lines are there, or they failed.
/// (Store/RaceTests holds each step for the deterministic version.)
/// </summary>
[Collection("Mount")]
public sealed class ContextRaceTests(ITestOutputHelper output)
{
    private const int Tries = 30;

    [Fact]
    public void Rmdir_RacingChibisFirstAppends_AcknowledgedLineNeverDeleted()
    {
        using var m = MountedStore.Start();
        // chibi's own append, straight into the store: flock, O_APPEND write, fsync, unlock.
        var (exit, stdout, stderr) = m.Python($$"""
            import fcntl, threading
            STORE = '{{m.Store}}'
            results = []
            for n in range({{Tries}}):
                os.mkdir(os.path.join(MNT, 'race%d' % n))
                tdir = os.path.join(STORE, 'contexts', 'race%d' % n, 'transcript')
                acked, start = [], threading.Barrier(2)
                def write():
                    start.wait()
                    try:
                        for i in range(20):
                            lock = os.open(os.path.join(tdir, '.transcript.lock'), os.O_RDWR | os.O_CREAT, 0o644)
                            fcntl.flock(lock, fcntl.LOCK_EX)
                            fd = os.open(os.path.join(tdir, 'active.jsonl'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                            os.write(fd, b'{"id":"x","timestamp":1,"from":"u","to":"c","content":"acked-%d-%d","entry_type":"message"}\n' % (n, i))
                            os.fsync(fd)
                            os.close(fd)
                            acked.append(i)
                            os.close(lock)
                    except OSError as e:
                        pass
                t = threading.Thread(target=write)
                t.start()
                start.wait()
                try:
                    os.rmdir(os.path.join(MNT, 'race%d' % n))
                    removed = True
                except OSError as e:
                    removed = False
                t.join()
                results.append({'n': n, 'acked': bool(acked), 'removed': removed})
            print(json.dumps(results))
            """, timeoutSeconds: 120);
        Assert.True(exit == 0, stderr + m.Log);
        using var results = JsonDocument.Parse(stdout);
        var all = results.RootElement.EnumerateArray().ToList();
        output.WriteLine($"{all.Count(r => r.GetProperty("acked").GetBoolean())} appends acknowledged, {all.Count(r => r.GetProperty("removed").GetBoolean())} contexts removed, of {Tries}");
        foreach (var r in results.RootElement.EnumerateArray())
        {
            int n = r.GetProperty("n").GetInt32();
            bool acked = r.GetProperty("acked").GetBoolean(), removed = r.GetProperty("removed").GetBoolean();
            Assert.False(acked && removed, $"race{n}: the append was acknowledged and its context removed\n{m.Log}");
            if (acked) Assert.Contains($"acked-{n}-0", m.Ok($"cat race{n}/transcript.jsonl"), StringComparison.Ordinal);
            if (removed) Assert.False(Directory.Exists(m.StorePath("contexts", $"race{n}")), $"race{n}: removed, then recreated");
        }
        Assert.Empty(Directory.GetDirectories(m.StorePath("contexts"), ".vfsmount-trash-*"));
    }
}
