using VfsMount.Store;

namespace VfsMount.Tests.Store;

public sealed class GroupCommitTests
{
    [Fact]
    public void Commit_Alone_WritesItsOwnBatch()
    {
        var batches = new List<IReadOnlyList<int>>();
        var commits = new GroupCommit<int>(batches.Add);

        commits.Commit(1);
        commits.Commit(2);

        Assert.Equal([[1], [2]], batches.Select(b => b.ToArray()).ToArray());
    }

    [Fact]
    public async Task Commit_WhileABatchIsBeingWritten_JoinsTheNextBatch()
    {
        var batches = new List<int[]>();
        using var firstStarted = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        var commits = new GroupCommit<int>(batch =>
        {
            lock (batches) batches.Add(batch.ToArray());
            if (batch.Contains(0))
            {
                firstStarted.Set();
                releaseFirst.Wait(TimeSpan.FromSeconds(10));
            }
        });

        // Threads of their own: blocked pool threads would be injected too slowly on 2 cores.
        var first = Started(() => commits.Commit(0));
        Assert.True(firstStarted.Wait(TimeSpan.FromSeconds(10)));
        var others = Enumerable.Range(1, 7).Select(i => Started(() => commits.Commit(i))).ToArray();
        await Task.Delay(1000);   // let the seven queue behind the first batch
        releaseFirst.Set();
        foreach (var t in others.Prepend(first)) Assert.True(t.Join(TimeSpan.FromSeconds(10)));

        Assert.Equal([0], batches[0]);
        Assert.Equal(Enumerable.Range(0, 8), batches.SelectMany(b => b).Order());
        Assert.True(batches.Count <= 3, $"8 commits took {batches.Count} batches");
    }

    private static Thread Started(Action action)
    {
        var thread = new Thread(() => action()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    [Fact]
    public void Commit_FailedBatch_FailsEveryMemberAndOnlyThem()
    {
        var commits = new GroupCommit<string>(batch =>
        {
            if (batch.Contains("bad")) throw new StoreException(28, "disk full");
        });

        var e = Assert.Throws<StoreException>(() => commits.Commit("bad"));
        Assert.Equal(28, e.Errno);
        commits.Commit("good");   // the next batch is unaffected
    }
}
