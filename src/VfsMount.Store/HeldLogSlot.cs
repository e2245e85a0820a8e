namespace VfsMount.Store;

/// <summary>
/// A log's <see cref="HeldLog"/> as its owner keeps it: made at the first append, used by one
/// append at a time, and let go when this process renames or removes the context
/// (<see cref="Retire"/>). Lock order: the slot, then the log's flock.
/// </summary>
internal sealed class HeldLogSlot(string lockPath, string logPath)
{
    private readonly Lock _gate = new();
    private HeldLog? _held;
    private volatile bool _retired;

    /// <summary>Runs one append with the held log; after it, a retired slot lets the descriptors go.</summary>
    public void Append(Action<HeldLog> append)
    {
        lock (_gate)
        {
            try
            {
                append(_held ??= new HeldLog(lockPath, logPath));
            }
            finally
            {
                if (_retired) LetGo();
            }
        }
    }

    /// <summary>
    /// The context moved: the descriptors go. A log still referenced (an open handle) appends by
    /// name again, holding them for the length of one append at most. Never waits for an append
    /// in progress (it may wait for the flock the caller holds): that append lets them go when it ends.
    /// </summary>
    public void Retire()
    {
        _retired = true;
        if (!_gate.TryEnter()) return;
        try
        {
            LetGo();
        }
        finally
        {
            _gate.Exit();
        }
    }

    private void LetGo()
    {
        _held?.Dispose();
        _held = null;
    }
}
