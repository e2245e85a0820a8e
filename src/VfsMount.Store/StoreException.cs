namespace VfsMount.Store;

/// <summary>
/// A refusal or failure the user sees as an errno (EINVAL for a bad line, EFBIG, ENOSPC …),
/// with the one-line reason that is logged. Thrown out of the store, caught at the view.
/// </summary>
public class StoreException(int errno, string reason) : IOException(reason)
{
    public int Errno { get; } = errno;

    public static int ErrnoOf(Exception e) => e switch
    {
        StoreException s => s.Errno,
        FileNotFoundException or DirectoryNotFoundException => 2,   // ENOENT
        UnauthorizedAccessException => 13,                          // EACCES
        PathTooLongException => 36,                                 // ENAMETOOLONG
        IOException io when io.HResult is > 0 and < 4096 => io.HResult, // .NET on Unix keeps the raw errno
        _ => 5,                                                     // EIO
    };
}
