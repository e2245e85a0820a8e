using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Xunit.Abstractions;

namespace VfsMount.Tests.Reliability;

/// <summary>
/// A model-based random test in the spirit of fsx: a seeded generator draws thousands of
/// operations — several handles open at once on two documents, two scratch files and the two
/// JSON logs — that run on <see cref="FsModel"/>, SPEC §2's semantics in memory, and on the
/// filesystem: the real mount through the kernel, and the same sequence on the view in-process
/// (no kernel: a mismatch there is the view's own, not the host's or the kernel's). Every return
/// value, errno and byte read must agree. On a mismatch the run is shrunk to its shortest
/// failing prefix (each attempt on a fresh filesystem) and printed with its seed.
/// </summary>
/// <remarks>
/// A longer run by hand: <c>VFSMOUNT_MODEL_SEED=123 VFSMOUNT_MODEL_OPS=100000 dotnet test
/// tests/VfsMount.Tests --filter FullyQualifiedName~Reliability.ModelTests</c>
/// (VFSMOUNT_MODEL_SEED takes a comma-separated list, or "random"; VFSMOUNT_MODEL_PRINT=1 lists
/// every operation).
/// Not generated: O_CREAT on a read-only open of a document, O_TRUNC on a read-only open, mmap
/// of logs and of write-only handles, path operations on a document that exists only as an
/// uncommitted staged copy, and renaming a file over a document while a descriptor of it is open.
/// </remarks>
[Collection("Mount")]
public sealed class ModelTests(ITestOutputHelper output)
{
    private const string Context = "ctx";


    [Fact]
    public void RandomOperations_ThroughTheKernel_MatchTheModel() => RunSeeds("mount", () => new MountDriver(Context));

    [Fact]
    public void RandomOperations_OnTheViewInProcess_MatchTheModel() => RunSeeds("view", () => new ViewDriver(Context));

    private void RunSeeds(string target, Func<IFsDriver> start, [CallerMemberName] string test = "")
    {
        int count = int.Parse(Environment.GetEnvironmentVariable("VFSMOUNT_MODEL_OPS") ?? "1500", CultureInfo.InvariantCulture);
        foreach (int seed in Seeds())
        {
            var ops = FsGenerator.Generate(seed, count);
            if (Environment.GetEnvironmentVariable("VFSMOUNT_MODEL_PRINT") == "1")
                for (int i = 0; i < ops.Count; i++) output.WriteLine($"  #{i} {ops[i]}");
            var clock = Stopwatch.StartNew();
            var failure = Run(ops, start);
            output.WriteLine($"{target}, seed {seed}: {count} operations in {clock.Elapsed.TotalSeconds:F1} s{(failure is null ? "" : $", mismatch at #{failure.Index}")}");
            if (failure is null) continue;

            var (shortest, detail) = Shrink(ops, failure, start);
            var report = new StringBuilder();
            report.AppendLine(CultureInfo.InvariantCulture, $"seed {seed} ({count} operations): the {target} differs from the model.");
            report.AppendLine(CultureInfo.InvariantCulture, $"shortest failing prefix: {shortest.Index + 1} operations; at #{shortest.Index} {ops[shortest.Index]}: {shortest.Difference}");
            report.AppendLine(CultureInfo.InvariantCulture, $"reproduce: VFSMOUNT_MODEL_SEED={seed} VFSMOUNT_MODEL_OPS={shortest.Index + 1} dotnet test tests/VfsMount.Tests --filter FullyQualifiedName~Reliability.ModelTests.{test}");
            for (int i = 0; i <= shortest.Index; i++) report.AppendLine(CultureInfo.InvariantCulture, $"  #{i} {ops[i]}");
            report.AppendLine("log of that run:").Append(detail);
            output.WriteLine(report.ToString());
            Assert.Fail(report.ToString());
        }
    }

    private static IEnumerable<int> Seeds()
    {
        string spec = Environment.GetEnvironmentVariable("VFSMOUNT_MODEL_SEED") ?? "1,2";
        if (spec == "random") return [Random.Shared.Next()];
        return spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture));
    }

    private sealed record Failure(int Index, string Difference, string Log);

    /// <summary>Runs the operations on a fresh filesystem and a fresh model; the first disagreement, or null.</summary>
    private static Failure? Run(IReadOnlyList<Op> ops, Func<IFsDriver> start)
    {
        var model = new FsModel();
        Failure? failure = null;
        string log;
        using (var driver = start())
        {
            for (int i = 0; i < ops.Count && failure is null; i++)
            {
                var expected = model.Apply(ops[i]);
                var actual = driver.Run(ops[i]);
                if (Outcome.Difference(expected, actual) is { } difference) failure = new Failure(i, difference, "");
            }
            log = driver.Log;
        }
        // A broken internal rule fails the run even when every answer was right.
        if (failure is null && log.Contains("INTERNAL ERROR", StringComparison.Ordinal))
            failure = new Failure(ops.Count - 1, "the filesystem logged an INTERNAL ERROR", "");
        return failure is null ? null : failure with { Log = log };
    }

    /// <summary>The shortest prefix that still fails, by binary search on its length (each try a fresh filesystem).</summary>
    private (Failure Shortest, string Log) Shrink(List<Op> ops, Failure failure, Func<IFsDriver> start)
    {
        int lo = 1, hi = failure.Index + 1;
        var best = failure;
        while (lo < hi)
        {
            int mid = lo + (hi - lo) / 2;
            var f = Run(ops.GetRange(0, mid), start);
            output.WriteLine($"shrink: prefix {mid} {(f is null ? "passes" : $"fails at #{f.Index}")}");
            if (f is null)
            {
                lo = mid + 1;
            }
            else
            {
                best = f;
                hi = f.Index + 1;
                if (lo > hi) lo = 1;   // it failed earlier than a prefix that passed: timing, search again below
            }
        }
        return (best, best.Log);
    }
}
