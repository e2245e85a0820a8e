/*
 * vfsfuse — a small, flat ABI over libfuse3's high-level path API.
 *
 * Why it exists: the C# host must not see libfuse's structs (`struct stat`
 * differs between x86-64 and arm64, `fuse_file_info` has bitfields). Every
 * type that crosses this boundary is fixed-width and laid out without
 * implicit padding; C# mirrors them with [StructLayout(Sequential)].
 *
 * Conventions
 *   - Callbacks (vfs_ops) return 0 or a NEGATIVE errno; read/write return the
 *     byte count (>= 0) or a negative errno. The first argument of every
 *     callback is the opaque `state` given to vfs_mount (C# passes a GCHandle).
 *   - Paths are absolute within the mount ("/", "/ctx/f"), NUL-terminated,
 *     raw bytes from the kernel (normally UTF-8; the C# side validates).
 *   - Exported functions return 0 or a negative errno unless documented
 *     otherwise. EINTR is retried inside this library, never returned.
 *   - Callbacks run on libfuse worker threads, concurrently. They must not
 *     call vfs_invalidate_path for an inode they are serving (the kernel may
 *     wait on that very request): queue it to another thread.
 *   - This library installs no handlers for SIGINT/SIGTERM/SIGHUP; the host
 *     handles those and calls vfs_exit. It does install a no-op handler for
 *     SIGURG (see the note below and vfs_exit).
 */
#ifndef VFSFUSE_H
#define VFSFUSE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VFS_EXPORT __attribute__((visibility("default")))

/* Bumped whenever a struct or signature below changes; C# checks it at load. */
#define VFS_ABI_VERSION 2

/* vfs_attr.kind and the `kind` of vfs_fill_dir. */
#define VFS_KIND_DIR 0u
#define VFS_KIND_REG 1u
#define VFS_KIND_SYMLINK 2u

/* Open flags handed to open/create, translated from the kernel's O_* bits
 * (whose values differ between architectures). Access mode is the low two
 * bits, as with O_ACCMODE. Other O_* bits are not passed on. */
#define VFS_O_RDONLY 0u
#define VFS_O_WRONLY 1u
#define VFS_O_RDWR 2u
#define VFS_O_ACCMODE 3u
#define VFS_O_APPEND 4u
#define VFS_O_TRUNC 8u
#define VFS_O_CREAT 16u
#define VFS_O_EXCL 32u

/* rename flags (same values as Linux's RENAME_*; RENAME_WHITEOUT is refused
 * with EINVAL in C and never reaches the callback). */
#define VFS_RENAME_NOREPLACE 1u
#define VFS_RENAME_EXCHANGE 2u

/* utimens: "leave this time unchanged". UTIME_NOW is resolved in C to the
 * current CLOCK_REALTIME, so C# only ever sees a time or this sentinel. */
#define VFS_TIME_OMIT INT64_MIN

/* SIGURG is what vfs_exit sends to the thread blocked in
 * vfs_loop to interrupt its sem_wait: ignored by default, unused by the .NET
 * runtime, and the signal Go uses for its own thread wake-ups. vfs_loop
 * installs a no-op handler for it (without SA_RESTART) unless the process
 * already handles it. */

/* Node attributes, 56 bytes. Before getattr is called, C fills uid/gid with
 * the mounting process's ids (vfs_mount time) and everything else with 0;
 * the callback overwrites what it knows. Times are ns since the Unix epoch.
 * perm holds permission bits only (07777); C adds the file type from kind.
 * st_ino is left to libfuse (use_ino off); st_blocks = ceil(size/512). */
typedef struct vfs_attr {
    uint32_t kind;
    uint32_t perm;
    int64_t size;
    int64_t atime_ns;
    int64_t mtime_ns;
    int64_t ctime_ns;
    uint32_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint32_t reserved; /* keeps the size a multiple of 8; leave 0 */
} vfs_attr;

/* statvfs, fixed width; 64 bytes. frsize = bsize when the callback leaves
 * frsize 0. */
typedef struct vfs_statfs {
    uint64_t bsize;
    uint64_t frsize;
    uint64_t blocks;
    uint64_t bfree;
    uint64_t bavail;
    uint64_t files;
    uint64_t ffree;
    uint64_t namemax;
} vfs_statfs;

/* The operations C# implements. A NULL entry answers -ENOSYS.
 * `fh` is the 64-bit handle C# returned from open/create.
 * For getattr and truncate, `path` may be NULL when has_fh is set: the file
 * was unlinked while open (hard_remove), so only the handle identifies it. */
typedef struct vfs_ops {
    int32_t (*getattr)(void *state, const char *path, uint64_t fh, int32_t has_fh, vfs_attr *attr);
    /* Lists `path`; for each entry call vfs_fill_dir(fill_ctx, name, kind).
     * "." and ".." are added by C; names "." and ".." passed to
     * vfs_fill_dir are ignored. */
    int32_t (*readdir)(void *state, const char *path, void *fill_ctx);
    /* flags: VFS_O_*. On success set *fh; *direct_io = 1 makes the kernel
     * send every read/write here (no page cache); *keep_cache = 1 keeps
     * pages cached by earlier opens. Both are 0 on entry. */
    int32_t (*open)(void *state, const char *path, uint32_t flags, uint32_t uid, uint32_t gid, int32_t pid,
                    uint64_t *fh, int32_t *direct_io, int32_t *keep_cache);
    /* mode: permission bits only. flags include VFS_O_CREAT. */
    int32_t (*create)(void *state, const char *path, uint32_t mode, uint32_t flags, uint32_t uid, uint32_t gid,
                      int32_t pid, uint64_t *fh, int32_t *direct_io, int32_t *keep_cache);
    /* Returns bytes read (0 = end of file) or -errno. Without direct_io a
     * short read is taken by the kernel as end of file. */
    int32_t (*read)(void *state, uint64_t fh, uint8_t *buf, uint32_t size, int64_t off);
    /* Returns bytes written or -errno. size <= 1 MiB (max_write). */
    int32_t (*write)(void *state, uint64_t fh, const uint8_t *buf, uint32_t size, int64_t off);
    /* Called on every close(2) of a descriptor; its errno is what close returns. */
    int32_t (*flush)(void *state, uint64_t fh);
    /* Last reference gone; the result is ignored by the kernel. */
    int32_t (*release)(void *state, uint64_t fh);
    int32_t (*fsync)(void *state, uint64_t fh, int32_t datasync);
    int32_t (*truncate)(void *state, const char *path, int64_t size, uint64_t fh, int32_t has_fh);
    int32_t (*unlink)(void *state, const char *path);
    int32_t (*mkdir)(void *state, const char *path, uint32_t mode, uint32_t uid, uint32_t gid, int32_t pid);
    int32_t (*rmdir)(void *state, const char *path);
    int32_t (*rename)(void *state, const char *from, const char *to, uint32_t flags);
    int32_t (*symlink)(void *state, const char *target, const char *linkpath);
    /* Writes the target into buf as a NUL-terminated string, truncated to
     * size - 1 bytes if longer. */
    int32_t (*readlink)(void *state, const char *path, char *buf, uint32_t size);
    int32_t (*chmod)(void *state, const char *path, uint32_t mode);
    /* Either time may be VFS_TIME_OMIT. */
    int32_t (*utimens)(void *state, const char *path, int64_t atime_ns, int64_t mtime_ns);
    int32_t (*statfs)(void *state, const char *path, vfs_statfs *st);
} vfs_ops;

/* VFS_ABI_VERSION of the loaded library. */
VFS_EXPORT int32_t vfs_abi_version(void);

/* Adds one directory entry during a readdir callback. Returns 0, or 1 when
 * the entry could not be added (out of memory); stop listing then. */
VFS_EXPORT int32_t vfs_fill_dir(void *fill_ctx, const char *name, uint32_t kind);

/* Creates the FUSE session and mounts it at `mountpoint`.
 *   options: NULL-terminated list of mount options, each passed as
 *            "-o <opt>" ("allow_other", "ro", "default_permissions", ...).
 *            "fsname=vfsmount" and "subtype=vfsmount" are added first, so
 *            the mount shows as "vfsmount on MNT type fuse.vfsmount"; a
 *            caller's fsname=/subtype= wins.
 *   ops:     copied; `state` is passed back unchanged to every callback.
 *   errbuf:  receives a one-line reason on failure (may be NULL).
 * Returns 0 and *session_out, or -errno: ENOENT/ENOTDIR (mountpoint),
 * EINVAL (unknown option), ENOMEM, EIO (mount failed; errbuf says why,
 * e.g. no /dev/fuse, permission, busy). Does not start serving: a process
 * touching the mount blocks until vfs_loop runs. */
VFS_EXPORT int32_t vfs_mount(const char *mountpoint, const char *const *options, const vfs_ops *ops, void *state,
                             void **session_out, char *errbuf, uint32_t errbuf_len);

/* Serves requests on up to max_threads libfuse worker threads (<= 0: 10)
 * until vfs_exit or an external unmount, then unmounts (lazily, as libfuse
 * does: files still open get ENOTCONN). Blocks the calling thread.
 * Returns 0 on a clean exit (also when vfs_exit came first: it then only
 * unmounts), -EBUSY when called a second time, else -errno from the loop. */
VFS_EXPORT int32_t vfs_loop(void *session, int32_t max_threads);

/* Asks vfs_loop to return. Thread-safe, async-signal-unsafe (call it from a
 * normal thread, e.g. .NET's PosixSignalRegistration handler), idempotent,
 * does not block. Works while files are open: it sets libfuse's exit flag
 * and wakes the loop thread with SIGURG (retried for up to 5 s
 * from a helper thread to close the race with the loop entering sem_wait);
 * libfuse then cancels its workers that wait in read(/dev/fuse) and joins
 * those that are inside a callback once it returns. */
VFS_EXPORT void vfs_exit(void *session);

/* Unmounts if still mounted and frees the session. Call after vfs_loop has
 * returned (or when it never ran) and once no thread is in
 * vfs_invalidate_path. */
VFS_EXPORT void vfs_destroy(void *session);

/* Drops the kernel's cached data and attributes of `path` (after the store
 * changed underneath). Returns 0, -ENOENT when the kernel holds no inode for
 * the path (nothing cached: fine), -ENOTCONN once unmounted, other -errno
 * from the kernel. Do not call it from inside a callback. */
VFS_EXPORT int32_t vfs_invalidate_path(void *session, const char *path);

#ifdef __cplusplus
}
#endif

#endif
