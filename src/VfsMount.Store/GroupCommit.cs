using System.Runtime.ExceptionServices;

namespace VfsMount.Store;

/// <summary>
/// Group commit, as FASTER's log does it: appends that arrive while one is being written and
/// fsync'd wait, then go to disk together — one lock, one write, one fsync for all of them.
/// Each batch is led by one of its own members, so a lone writer pays exactly what it did
/// alone. <see cref="Commit"/> returns only once the caller's lines are durable, and a failed
/// batch fails every member: nothing of theirs was left in the file.
/// </summary>
public sealed class GroupCommit<T>(Action<IReadOnlyList<T>> writeDurably)
{
    private sealed class Request(T item)
    {
        public readonly T Item = item;
        public bool Done;
        public ExceptionDispatchInfo? Error;
    }

    private readonly object _gate = new();   // Monitor.Wait needs an object, not System.Threading.Lock
    private List<Request> _waiting = [];
    private bool _writing;

    /// <summary>Durable when it returns; throws the batch's failure otherwise.</summary>
    public void Commit(T item)
    {
        var me = new Request(item);
        List<Request> batch;
        lock (_gate)
        {
            _waiting.Add(me);
            while (_writing && !me.Done) Monitor.Wait(_gate);
            if (me.Done)
            {
                me.Error?.Throw();
                return;
            }
            _writing = true;   // lead the batch: everyone waiting, me included
            batch = _waiting;
            _waiting = [];
        }

        ExceptionDispatchInfo? error = null;
        try
        {
            writeDurably(batch.ConvertAll(r => r.Item));
        }
        catch (Exception e)
        {
            error = ExceptionDispatchInfo.Capture(e);
        }

        lock (_gate)
        {
            foreach (var r in batch) (r.Done, r.Error) = (true, error);
            _writing = false;
            Monitor.PulseAll(_gate);
        }
        error?.Throw();
    }
}
