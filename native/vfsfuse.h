/*
 * vfsfuse — a small, flat ABI over libfuse3's LOW-LEVEL (inode) API.
 *
 * Why it exists: the C# host must not see libfuse's structs (`struct stat`
 * differs between x86-64 and arm64, `fuse_file_info` has bitfields). Every
 * type that crosses this boundary is fixed-width and laid out without
 * implicit padding; C# mirrors them with [StructLayout(Sequential)].
 *
 * Conventions
 *   - Nodes are the kernel's node ids (fuse_ino_t), chosen by C#: the root is
 *     VFS_ROOT_ID; every other id comes from a lookup/create/mkdir/symlink
 *     reply that C# filled, and C# counts those replies (one lookup each)
 *     until `forget` gives them back.
 *   - Callbacks (vfs_ops) return 0 or a NEGATIVE errno; read/write return the
 *     byte count (>= 0) or a negative errno. C turns each result into exactly
 *     one fuse_reply_*; a callback never replies. The first argument of
 *     every callback is the opaque `state` given to vfs_mount (a GCHandle).
 *   - Names are single path components, NUL-terminated, raw bytes from the
 *     kernel (normally UTF-8; the C# side validates).
 *   - Exported functions return 0 or a negative errno unless documented
 *     otherwise. EINTR is retried inside this library, never returned.
 *   - Callbacks run on libfuse worker threads, concurrently.
 *   - This library installs no handlers for SIGINT/SIGTERM/SIGHUP; the host
 *     handles those and calls vfs_exit. It does install a no-op handler for
 *     SIGURG (see vfs_exit).
 */
#ifndef VFSFUSE_H
#define VFSFUSE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VFS_EXPORT __attribute__((visibility("default")))

/* Bumped whenever a struct or signature below changes; C# checks it at load. */
#define VFS_ABI_VERSION 4

#define VFS_ROOT_ID 1u

/* vfs_attr.kind. */
#define VFS_KIND_DIR 0u
#define VFS_KIND_REG 1u
#define VFS_KIND_SYMLINK 2u
#define VFS_KIND_FIFO 3u
#define VFS_KIND_SOCKET 4u
#define VFS_KIND_CHAR 5u
#define VFS_KIND_BLOCK 6u

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

/* A device number: 12 bits of major, 20 of minor (the kernel's own split). */
#define VFS_DEV(major, minor) ((uint32_t)(((major) & 0xfffu) << 20 | ((minor) & 0xfffffu)))

/* rename flags (same values as Linux's RENAME_*; RENAME_WHITEOUT is refused
 * with EINVAL in C and never reaches the callback). */
#define VFS_RENAME_NOREPLACE 1u
#define VFS_RENAME_EXCHANGE 2u

/* setattr: which fields of the request are set. */
#define VFS_SET_MODE 1u
#define VFS_SET_UID 2u
#define VFS_SET_GID 4u
#define VFS_SET_SIZE 8u
#define VFS_SET_ATIME 16u
#define VFS_SET_MTIME 32u

/* A time left unchanged. UTIME_NOW is resolved in C to the current
 * CLOCK_REALTIME, so C# only ever sees a time or this sentinel. */
#define VFS_TIME_OMIT INT64_MIN

/* Who sent a request (fuse_req_ctx); 16 bytes. umask is the caller's, sent
 * by the kernel for create/mkdir/symlink because DONT_MASK is negotiated:
 * the kernel does not apply it, C# does. */
typedef struct vfs_req {
    uint32_t uid;
    uint32_t gid;
    int32_t pid;
    uint32_t umask;
} vfs_req;

/* Node attributes, 72 bytes. Times are ns since the Unix epoch. perm holds
 * permission bits only (07777); C adds the file type from kind. st_ino is
 * `ino` (the node id); st_blocks = ceil(size/512). rdev of a device node is
 * VFS_DEV(major, minor), independent of the C library's dev_t. */
typedef struct vfs_attr {
    uint64_t ino;
    uint32_t kind;
    uint32_t perm;
    int64_t size;
    int64_t atime_ns;
    int64_t mtime_ns;
    int64_t ctime_ns;
    uint32_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint32_t rdev;
    int64_t attr_timeout_ns;
} vfs_attr;

/* A name's node, for lookup/create/mkdir/symlink/readdirplus replies;
 * 96 bytes. ino 0 in a lookup reply is a negative entry cached for
 * entry_timeout_ns. */
typedef struct vfs_entry {
    uint64_t ino;
    uint64_t generation;
    int64_t entry_timeout_ns;
    vfs_attr attr;
} vfs_entry;

/* The result of open/create/opendir; 24 bytes. direct_io = 1 makes the
 * kernel send every read/write here (no page cache); keep_cache = 1 keeps
 * pages cached by earlier opens of the node; no_flush = 1: close(2) of it
 * sends no flush (for handles whose flush does nothing: no writeback cache,
 * so no dirty pages either). All 0 on entry. */
typedef struct vfs_open {
    uint64_t fh;
    int32_t direct_io;
    int32_t keep_cache;
    int32_t no_flush;
    int32_t reserved; /* 0 */
} vfs_open;

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

/* The operations C# implements; a NULL entry answers -ENOSYS (forget: no
 * answer). `fh` is the 64-bit handle C# returned from open/create/opendir;
 * has_fh says whether the kernel named one (fstat, ftruncate). */
typedef struct vfs_ops {
    int32_t (*lookup)(void *state, const vfs_req *req, uint64_t parent, const char *name, vfs_entry *out);
    /* The kernel dropped `nlookup` lookups of `ino`; no reply. */
    void (*forget)(void *state, uint64_t ino, uint64_t nlookup);
    int32_t (*getattr)(void *state, const vfs_req *req, uint64_t ino, uint64_t fh, int32_t has_fh, vfs_attr *out);
    /* `valid`: VFS_SET_*; on success *out holds the new attributes. */
    int32_t (*setattr)(void *state, const vfs_req *req, uint64_t ino, uint64_t fh, int32_t has_fh, uint32_t valid,
                       uint32_t mode, uint32_t uid, uint32_t gid, int64_t size, int64_t atime_ns, int64_t mtime_ns,
                       vfs_attr *out);
    /* Writes the target into buf as a NUL-terminated string, truncated to
     * size - 1 bytes if longer. */
    int32_t (*readlink)(void *state, const vfs_req *req, uint64_t ino, char *buf, uint32_t size);
    /* mode: permission bits only, the caller's umask NOT yet applied. */
    int32_t (*mkdir)(void *state, const vfs_req *req, uint64_t parent, const char *name, uint32_t mode,
                     vfs_entry *out);
    int32_t (*unlink)(void *state, const vfs_req *req, uint64_t parent, const char *name);
    int32_t (*rmdir)(void *state, const vfs_req *req, uint64_t parent, const char *name);
    int32_t (*symlink)(void *state, const vfs_req *req, const char *target, uint64_t parent, const char *name,
                       vfs_entry *out);
    int32_t (*rename)(void *state, const vfs_req *req, uint64_t parent, const char *name, uint64_t newparent,
                      const char *newname, uint32_t flags);
    /* flags: VFS_O_*. */
    int32_t (*open)(void *state, const vfs_req *req, uint64_t ino, uint32_t flags, vfs_open *out);
    /* mode: permission bits only, umask not applied; flags include VFS_O_CREAT. */
    int32_t (*create)(void *state, const vfs_req *req, uint64_t parent, const char *name, uint32_t mode,
                      uint32_t flags, vfs_entry *entry, vfs_open *out);
    /* Returns bytes read (0 = end of file) or -errno. Without direct_io a
     * short read is taken by the kernel as end of file. */
    int32_t (*read)(void *state, uint64_t fh, uint8_t *buf, uint32_t size, int64_t off);
    /* Returns bytes written or -errno. size <= 1 MiB (max_write). */
    int32_t (*write)(void *state, const vfs_req *req, uint64_t fh, const uint8_t *buf, uint32_t size, int64_t off);
    /* Called on every close(2) of a descriptor; its errno is what close returns. */
    int32_t (*flush)(void *state, uint64_t fh);
    /* Last reference gone; the result is ignored by the kernel. */
    int32_t (*release)(void *state, uint64_t fh);
    int32_t (*fsync)(void *state, uint64_t fh, int32_t datasync);
    /* Called only by kernels without FUSE_CAP_NO_OPENDIR_SUPPORT; elsewhere
     * directories are opened by the kernel alone and readdir gets fh 0. Either
     * way the kernel may cache listings: a listing at `off` > 0 may continue
     * one begun at 0 through another open of the directory. */
    int32_t (*opendir)(void *state, const vfs_req *req, uint64_t ino, vfs_open *out);
    /* Lists entries from offset `off` (0 = the start; else a `next_off`
     * given earlier, by any open of the directory) by calling vfs_add_dirent
     * until it returns 1 (full).
     * plus: the kernel asked for READDIRPLUS — give each entry's vfs_entry,
     * and count a lookup only for entries vfs_add_dirent accepted. */
    int32_t (*readdir)(void *state, const vfs_req *req, uint64_t ino, uint64_t fh, int64_t off, int32_t plus,
                       void *dir_ctx);
    int32_t (*releasedir)(void *state, uint64_t fh);
    int32_t (*statfs)(void *state, uint64_t ino, vfs_statfs *out);
    /* A FIFO, socket, device node or (mknod(S_IFREG)) empty regular file: kind VFS_KIND_*, perm 07777 bits with
     * the caller's umask NOT yet applied, rdev VFS_DEV() for devices. */
    int32_t (*mknod)(void *state, const vfs_req *req, uint64_t parent, const char *name, uint32_t kind, uint32_t perm,
                     uint32_t rdev, vfs_entry *out);
    /* A hard link of `ino` named `newname` in `newparent`. */
    int32_t (*link)(void *state, const vfs_req *req, uint64_t ino, uint64_t newparent, const char *newname,
                    vfs_entry *out);
} vfs_ops;

/* VFS_ABI_VERSION of the loaded library. */
VFS_EXPORT int32_t vfs_abi_version(void);

/* Adds one directory entry during a readdir callback: its name, the offset
 * at which the listing continues after it, and its node (entry->attr.ino,
 * the d_ino, never 0, and entry->attr.kind are used by plain readdir; all of
 * it by readdirplus, where entry->ino 0 means "no node": nothing counted).
 * Returns 0 when added, 1 when the reply buffer is full (nothing added:
 * stop, and do not count a lookup for it). */
VFS_EXPORT int32_t vfs_add_dirent(void *dir_ctx, const char *name, int64_t next_off, const vfs_entry *entry);

/* Creates the FUSE session and mounts it at `mountpoint`.
 *   options: NULL-terminated list of mount options, each passed as
 *            "-o <opt>" ("allow_other", "ro", ...). default_permissions
 *            is always on: the kernel checks every access against the
 *            owner and mode the attributes present.
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
 * until vfs_exit or an external unmount, then unmounts (lazily: files
 * still open get ENOTCONN). Blocks the calling thread. Returns 0 on a
 * clean exit (also when vfs_exit came first: it then only unmounts),
 * -EBUSY when called a second time, else -errno from the loop. */
VFS_EXPORT int32_t vfs_loop(void *session, int32_t max_threads);

/* Asks vfs_loop to return. Thread-safe, async-signal-unsafe (call it from a
 * normal thread, e.g. .NET's PosixSignalRegistration handler), idempotent,
 * does not block. Works while files are open: it sets libfuse's exit flag
 * and wakes the loop thread with SIGURG (retried for up to 5 s from a helper
 * thread to close the race with the loop entering sem_wait). */
VFS_EXPORT void vfs_exit(void *session);

/* Unmounts if still mounted and frees the session. Call after vfs_loop has
 * returned (or when it never ran) and once no thread is in a vfs_notify_*. */
VFS_EXPORT void vfs_destroy(void *session);

/* Kernel cache notifications. Each returns 0, -ENOENT when the kernel holds
 * nothing for it (fine), -ENOTCONN once unmounted, other -errno from the
 * kernel. The kernel may wait on its own locks while serving them: never
 * call one while holding a lock a request may need, nor inval_entry from a
 * request that holds `parent`'s directory lock (create, mkdir, unlink,
 * rmdir, rename, symlink in that directory).
 *   inval_entry: forget the name `name` in `parent` (next use looks it up).
 *   inval_inode: drop attributes, and pages in [off, off+len) (len 0: to
 *                the end; off < 0: attributes only).
 *   delete:      the name is gone and was `child`. */
VFS_EXPORT int32_t vfs_notify_inval_entry(void *session, uint64_t parent, const char *name);
VFS_EXPORT int32_t vfs_notify_inval_inode(void *session, uint64_t ino, int64_t off, int64_t len);
VFS_EXPORT int32_t vfs_notify_delete(void *session, uint64_t parent, uint64_t child, const char *name);

#ifdef __cplusplus
}
#endif

#endif
