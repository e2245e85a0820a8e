using VfsMount.Store;

namespace VfsMount.Tests.Store;

/// <summary>The store's own names by place (SPEC §2.3): internal where chibi or the mount puts them, a user's anywhere else.</summary>
public sealed class InternalNamesTests
{
    [Theory]
    [InlineData(StorePlace.ContextTop, ".lock")]
    [InlineData(StorePlace.ContextTop, ".inbox.lock")]
    [InlineData(StorePlace.ContextTop, ".dirty")]
    [InlineData(StorePlace.ContextTop, ".vfsmount-transcript-md.lock")]
    [InlineData(StorePlace.ContextTop, ".vfsmount-tmp-summary.md.0f3a")]
    [InlineData(StorePlace.ContextTop, "summary.tmp.123")]
    [InlineData(StorePlace.ContextTop, "context.tmp.1")]
    [InlineData(StorePlace.ContextTop, "context_meta.tmp.1")]
    [InlineData(StorePlace.ContextTop, "local.tmp.1")]
    [InlineData(StorePlace.ContextTop, ".lock.tmp.456")]
    [InlineData(StorePlace.Root, "state.tmp.9")]
    [InlineData(StorePlace.Root, "session.tmp.9")]
    [InlineData(StorePlace.Root, ".vfsmount-tmp-state.json.0f3a")]
    [InlineData(StorePlace.Transcript, ".transcript.lock")]
    [InlineData(StorePlace.Transcript, "manifest.tmp.5")]
    [InlineData(StorePlace.BelowTranscript, ".vfsmount-tmp-1-2.bloom.0f3a")]
    [InlineData(StorePlace.Vfs, "goals.tmp.5")]
    public void IsInternal_WhereChibiOrTheMountPutsIt(StorePlace place, string name) =>
        Assert.True(InternalNames.IsInternal(place, name));

    [Theory]
    [InlineData(StorePlace.ContextTop, "notes.tmp.5")]
    [InlineData(StorePlace.ContextTop, "summary.md.tmp.7")]
    [InlineData(StorePlace.ContextTop, "state.tmp.9")]            // the root's stem, not a context's
    [InlineData(StorePlace.ContextTop, ".transcript.lock")]       // lives in transcript/
    [InlineData(StorePlace.ContextTop, "summary.tmp.")]
    [InlineData(StorePlace.ContextTop, "summary.tmp.12a")]
    [InlineData(StorePlace.Root, "summary.tmp.1")]
    [InlineData(StorePlace.Transcript, ".lock")]
    [InlineData(StorePlace.Scratch, "summary.tmp.123")]
    [InlineData(StorePlace.Scratch, ".lock")]
    [InlineData(StorePlace.Scratch, ".dirty")]
    [InlineData(StorePlace.Scratch, ".vfsmount-tmp-x.0f3a")]
    public void IsInternal_ElsewhereAUsersName(StorePlace place, string name) =>
        Assert.False(InternalNames.IsInternal(place, name));
}
