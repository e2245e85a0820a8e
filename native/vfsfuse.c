/*
 * vfsfuse — see vfsfuse.h for the contract. This file is the only code that
 * touches libfuse: it converts libfuse's structs to the flat vfs_* types,
 * sets every cache timeout and feature flag (op_init), and owns mount,
 * loop, exit and unmount.
 *
 * Why the high-level path API and not the low-level inode API: the C# view is
 * path-based (IFileSystem takes paths), so the high-level API's path
 * resolution is exactly the work we would otherwise redo in C#, and it gives
 * hard_remove and inode bookkeeping for free. The low-level API saves one
 * path build per request (a few hundred ns) — noise next to the fsync that
 * every log append pays. Revisit with the benchmark if getattr-heavy
 * workloads (find, ls -lR) show the path building.
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE

#include "vfsfuse.h"

#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VFS_WAKE_SIGNAL SIGURG
#define VFS_MAX_WRITE (1u << 20)
#define VFS_DEFAULT_THREADS 10
#define VFS_WAKE_INTERVAL_MS 10
#define VFS_WAKE_TRIES 500 /* 5 s */

struct vfs_session {
    struct fuse *fuse;
    vfs_ops ops;
    void *state;
    uid_t uid;
    gid_t gid;

    /* Lock order: mount_lock before lock. Neither is held while a callback
     * runs; `lock` is held only for a few stores and one pthread_kill. */

    /* Guards the loop/exit bookkeeping below. */
    pthread_mutex_t lock;
    pthread_t loop_thread;
    int loop_running;   /* the loop thread is inside fuse_loop_mt */
    int loop_done;      /* vfs_loop has returned or will not run */
    int exit_requested;
    int has_waker;
    pthread_t waker;

    /* Read-held while vfs_invalidate_path writes to /dev/fuse; write-held to
     * close that fd (unmount), so no notification goes to a closed — or
     * reused — descriptor number. */
    pthread_rwlock_t mount_lock;
    int mounted;
    volatile int closing; /* set before unmount; new invalidations bail out */
};

/* ---- logging ------------------------------------------------------------ */

/* While vfs_mount runs on a thread, libfuse's messages are captured into the
 * caller's error buffer — the first complete line, which names the cause
 * (libfuse may print one line in several calls); at any other time they go to
 * stderr with our prefix. */
static __thread char *tls_capture;
static __thread size_t tls_capture_len;
static __thread int tls_capture_done;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void vfs_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
    (void)level;
    if (tls_capture != NULL) {
        if (!tls_capture_done) {
            size_t used = strlen(tls_capture);
            if (used + 1 < tls_capture_len) vsnprintf(tls_capture + used, tls_capture_len - used, fmt, ap);
            char *nl = strchr(tls_capture, '\n');
            if (nl != NULL) {
                *nl = '\0';
                tls_capture_done = 1;
            }
        }
        return;
    }
    fputs("vfsmount: ", stderr);
    vfprintf(stderr, fmt, ap);
}

static void install_log(void) { fuse_set_log_func(vfs_log); }

static int32_t fail(char *errbuf, uint32_t len, int32_t err, const char *fmt, ...)
{
    if (errbuf != NULL && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, len, fmt, ap);
        va_end(ap);
    }
    return err;
}

static void internal_error(const char *what)
{
    fprintf(stderr, "vfsmount: INTERNAL ERROR in vfsfuse: %s\n", what);
}

/* ---- conversions -------------------------------------------------------- */

static struct vfs_session *current(void) { return (struct vfs_session *)fuse_get_context()->private_data; }

static mode_t kind_to_type(uint32_t kind)
{
    switch (kind) {
    case VFS_KIND_DIR: return S_IFDIR;
    case VFS_KIND_REG: return S_IFREG;
    case VFS_KIND_SYMLINK: return S_IFLNK;
    default: return 0;
    }
}

static struct timespec ns_to_ts(int64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000;
        ts.tv_sec -= 1;
    }
    return ts;
}

static int64_t ts_to_ns(const struct timespec *ts) { return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec; }

static uint32_t to_vfs_open_flags(int flags)
{
    uint32_t r = (uint32_t)(flags & O_ACCMODE); /* 0,1,2 on every Linux arch */
    if (flags & O_APPEND) r |= VFS_O_APPEND;
    if (flags & O_TRUNC) r |= VFS_O_TRUNC;
    if (flags & O_CREAT) r |= VFS_O_CREAT;
    if (flags & O_EXCL) r |= VFS_O_EXCL;
    return r;
}

/* ---- operations: one small function each, wired in `fuse_ops` ----------- */

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct vfs_session *s = current();
    if (s->ops.getattr == NULL) return -ENOSYS;
    vfs_attr a;
    memset(&a, 0, sizeof a);
    a.uid = s->uid;
    a.gid = s->gid;
    int r = s->ops.getattr(s->state, path, fi ? fi->fh : 0, fi != NULL, &a);
    if (r != 0) return r;
    mode_t type = kind_to_type(a.kind);
    if (type == 0) {
        internal_error("getattr returned an unknown kind");
        return -EIO;
    }
    memset(st, 0, sizeof *st);
    st->st_mode = type | (a.perm & 07777);
    st->st_nlink = a.nlink ? a.nlink : 1;
    st->st_uid = a.uid;
    st->st_gid = a.gid;
    st->st_size = a.size;
    st->st_blksize = 4096;
    st->st_blocks = (a.size + 511) / 512;
    st->st_atim = ns_to_ts(a.atime_ns);
    st->st_mtim = ns_to_ts(a.mtime_ns);
    st->st_ctim = ns_to_ts(a.ctime_ns);
    return 0;
}

struct fill_ctx {
    void *buf;
    fuse_fill_dir_t filler;
};

int32_t vfs_fill_dir(void *fill_ctx, const char *name, uint32_t kind)
{
    struct fill_ctx *c = fill_ctx;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mode = kind_to_type(kind); /* only the type is used (d_type) */
    return c->filler(c->buf, name, &st, 0, 0) ? 1 : 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    (void)flags;
    struct vfs_session *s = current();
    if (s->ops.readdir == NULL) return -ENOSYS;
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mode = S_IFDIR;
    /* offset 0 everywhere: libfuse collects the whole listing, then pages it. */
    filler(buf, ".", &st, 0, 0);
    filler(buf, "..", &st, 0, 0);
    struct fill_ctx c = {buf, filler};
    return s->ops.readdir(s->state, path, &c);
}

static void apply_open_result(struct fuse_file_info *fi, uint64_t fh, int32_t direct_io, int32_t keep_cache)
{
    fi->fh = fh;
    fi->direct_io = direct_io != 0;
    fi->keep_cache = keep_cache != 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    struct fuse_context *cx = fuse_get_context();
    struct vfs_session *s = cx->private_data;
    if (s->ops.open == NULL) return -ENOSYS;
    uint64_t fh = 0;
    int32_t direct_io = 0, keep_cache = 0;
    int r = s->ops.open(s->state, path, to_vfs_open_flags(fi->flags), cx->uid, cx->gid, cx->pid, &fh, &direct_io,
                        &keep_cache);
    if (r == 0) apply_open_result(fi, fh, direct_io, keep_cache);
    return r;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct fuse_context *cx = fuse_get_context();
    struct vfs_session *s = cx->private_data;
    if (s->ops.create == NULL) return -ENOSYS;
    uint64_t fh = 0;
    int32_t direct_io = 0, keep_cache = 0;
    int r = s->ops.create(s->state, path, mode & 07777, to_vfs_open_flags(fi->flags) | VFS_O_CREAT, cx->uid,
                          cx->gid, cx->pid, &fh, &direct_io, &keep_cache);
    if (r == 0) apply_open_result(fi, fh, direct_io, keep_cache);
    return r;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    struct vfs_session *s = current();
    if (s->ops.read == NULL) return -ENOSYS;
    if (size > INT32_MAX) size = INT32_MAX; /* never happens: max_read <= 1 MiB */
    return s->ops.read(s->state, fi->fh, (uint8_t *)buf, (uint32_t)size, off);
}

static int op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    struct vfs_session *s = current();
    if (s->ops.write == NULL) return -ENOSYS;
    if (size > INT32_MAX) return -EFBIG; /* never happens: max_write is 1 MiB */
    return s->ops.write(s->state, fi->fh, (const uint8_t *)buf, (uint32_t)size, off);
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct vfs_session *s = current();
    return s->ops.flush ? s->ops.flush(s->state, fi->fh) : 0;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct vfs_session *s = current();
    return s->ops.release ? s->ops.release(s->state, fi->fh) : 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    struct vfs_session *s = current();
    return s->ops.fsync ? s->ops.fsync(s->state, fi->fh, datasync != 0) : -ENOSYS;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    struct vfs_session *s = current();
    if (s->ops.truncate == NULL) return -ENOSYS;
    if (path == NULL && fi == NULL) return -ENOENT;
    return s->ops.truncate(s->state, path, size, fi ? fi->fh : 0, fi != NULL);
}

static int op_unlink(const char *path)
{
    struct vfs_session *s = current();
    return s->ops.unlink ? s->ops.unlink(s->state, path) : -ENOSYS;
}

static int op_mkdir(const char *path, mode_t mode)
{
    struct fuse_context *cx = fuse_get_context();
    struct vfs_session *s = cx->private_data;
    return s->ops.mkdir ? s->ops.mkdir(s->state, path, mode & 07777, cx->uid, cx->gid, cx->pid) : -ENOSYS;
}

static int op_rmdir(const char *path)
{
    struct vfs_session *s = current();
    return s->ops.rmdir ? s->ops.rmdir(s->state, path) : -ENOSYS;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
    struct vfs_session *s = current();
    if (s->ops.rename == NULL) return -ENOSYS;
    if (flags & ~(VFS_RENAME_NOREPLACE | VFS_RENAME_EXCHANGE)) return -EINVAL; /* RENAME_WHITEOUT */
    return s->ops.rename(s->state, from, to, flags);
}

static int op_symlink(const char *target, const char *linkpath)
{
    struct vfs_session *s = current();
    return s->ops.symlink ? s->ops.symlink(s->state, target, linkpath) : -ENOSYS;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
    struct vfs_session *s = current();
    if (s->ops.readlink == NULL) return -ENOSYS;
    if (size == 0) return -EINVAL;
    if (size > UINT32_MAX) size = UINT32_MAX;
    buf[0] = '\0';
    int r = s->ops.readlink(s->state, path, buf, (uint32_t)size);
    buf[size - 1] = '\0';
    return r;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)fi;
    struct vfs_session *s = current();
    if (s->ops.chmod == NULL) return -ENOSYS;
    if (path == NULL) return -ENOENT; /* fchmod of an unlinked file */
    return s->ops.chmod(s->state, path, mode & 07777);
}

/* Owners are not stored: every node belongs to the mounting user. Asking for
 * exactly that owner (what `cp -p`, tar and rsync do) succeeds as a no-op;
 * asking for another fails with EPERM, as on a filesystem without owners. */
static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    (void)path;
    (void)fi;
    struct vfs_session *s = current();
    if (uid != (uid_t)-1 && uid != s->uid) return -EPERM;
    if (gid != (gid_t)-1 && gid != s->gid) return -EPERM;
    return 0;
}

static int64_t resolve_time(const struct timespec *ts)
{
    if (ts->tv_nsec == UTIME_OMIT) return VFS_TIME_OMIT;
    if (ts->tv_nsec == UTIME_NOW) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        return ts_to_ns(&now);
    }
    return ts_to_ns(ts);
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    (void)fi;
    struct vfs_session *s = current();
    if (s->ops.utimens == NULL) return -ENOSYS;
    if (path == NULL) return -ENOENT; /* futimens of an unlinked file */
    int64_t atime = VFS_TIME_OMIT, mtime = VFS_TIME_OMIT;
    if (tv == NULL) { /* not sent by libfuse 3.14, but documented as "now" */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        atime = mtime = ts_to_ns(&now);
    } else {
        atime = resolve_time(&tv[0]);
        mtime = resolve_time(&tv[1]);
    }
    return s->ops.utimens(s->state, path, atime, mtime);
}

static int op_statfs(const char *path, struct statvfs *out)
{
    struct vfs_session *s = current();
    if (s->ops.statfs == NULL) return -ENOSYS;
    vfs_statfs st;
    memset(&st, 0, sizeof st);
    int r = s->ops.statfs(s->state, path, &st);
    if (r != 0) return r;
    memset(out, 0, sizeof *out);
    out->f_bsize = st.bsize;
    out->f_frsize = st.frsize ? st.frsize : st.bsize;
    out->f_blocks = st.blocks;
    out->f_bfree = st.bfree;
    out->f_bavail = st.bavail;
    out->f_files = st.files;
    out->f_ffree = st.ffree;
    out->f_favail = st.ffree;
    out->f_namemax = st.namemax ? st.namemax : 255;
    return 0;
}

/* The single place where caching and protocol features are chosen. */
static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    /* Inode numbers stay libfuse's: the view has no stable ids to offer. */
    cfg->use_ino = 0;
    cfg->readdir_ino = 0;
    /* An unlinked open file keeps working through its handle (no
     * .fuse_hidden renames visible in the store). */
    cfg->hard_remove = 1;
    /* Attributes are never cached: the store changes underneath (other
     * programs, rotation, commits) and SPEC wants such changes visible within
     * 1 s; a getattr is cheap. */
    cfg->attr_timeout = 0;
    /* Name -> node entries are not cached either: a cached name decides which
     * request the kernel sends (OPEN without O_CREAT for a name it believes
     * exists), and names vanish underneath — another program's unlink, a
     * created document whose first commit was refused. The model test showed
     * open(O_CREAT) failing ENOENT on such a stale name with 1 s. */
    cfg->entry_timeout = 0;
    /* A name created by another program shows immediately. */
    cfg->negative_timeout = 0;
    /* Page-cache policy is per open file (direct_io/keep_cache from C#). */
    cfg->kernel_cache = 0;
    cfg->auto_cache = 0;
    cfg->direct_io = 0;
    /* Paths for fh-based ops are built; NULL only for unlinked open files. */
    cfg->nullpath_ok = 0;

    /* One write request carries up to 1 MiB (libfuse caps it at its buffer,
     * 256 pages; it negotiates FUSE_MAX_PAGES so the kernel goes past 32). */
    conn->max_write = VFS_MAX_WRITE;
    /* No writeback cache: a write(2) must reach the view before it returns
     * (log durability, validation errors reported by write). */
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    /* open(O_TRUNC) arrives as one open with VFS_O_TRUNC, not open+setattr,
     * so a document handle can start with an empty staged copy. */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* The kernel drops cached pages when size/mtime change on getattr. */
    if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    /* READDIRPLUS without attributes (readdir gives name+kind only) would
     * only make replies bigger. */
    conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
    return fuse_get_context()->private_data;
}

static const struct fuse_operations fuse_ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .truncate = op_truncate,
    .unlink = op_unlink,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .symlink = op_symlink,
    .readlink = op_readlink,
    .chmod = op_chmod,
    .chown = op_chown,
    .utimens = op_utimens,
    .statfs = op_statfs,
};

/* ---- mount, loop, exit -------------------------------------------------- */

int32_t vfs_abi_version(void) { return VFS_ABI_VERSION; }

static void wake_handler(int sig) { (void)sig; }

/* Installed without SA_RESTART so the loop thread's sem_wait returns EINTR.
 * Left alone if someone else already handles the signal. */
static void install_wake_handler(void)
{
    struct sigaction old;
    if (sigaction(VFS_WAKE_SIGNAL, NULL, &old) != 0) return;
    if (!(old.sa_flags & SA_SIGINFO) && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = wake_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        sigaction(VFS_WAKE_SIGNAL, &sa, NULL);
    }
}

static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

static int add_opt(struct fuse_args *args, const char *opt)
{
    return fuse_opt_add_arg(args, "-o") != 0 || fuse_opt_add_arg(args, opt) != 0 ? -ENOMEM : 0;
}

int32_t vfs_mount(const char *mountpoint, const char *const *options, const vfs_ops *ops, void *state,
                  void **session_out, char *errbuf, uint32_t errbuf_len)
{
    if (errbuf != NULL && errbuf_len > 0) errbuf[0] = '\0';
    if (session_out == NULL || mountpoint == NULL || ops == NULL)
        return fail(errbuf, errbuf_len, -EINVAL, "vfs_mount: missing argument");
    *session_out = NULL;
    pthread_once(&log_once, install_log);

    struct stat st;
    int r;
    do r = stat(mountpoint, &st); while (r != 0 && errno == EINTR);
    if (r != 0) {
        int e = errno;
        return fail(errbuf, errbuf_len, -e, "mountpoint %s: %s", mountpoint, strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return fail(errbuf, errbuf_len, -ENOTDIR, "mountpoint %s: not a directory", mountpoint);
    if (access("/dev/fuse", R_OK | W_OK) != 0) {
        int e = errno;
        return fail(errbuf, errbuf_len, e == ENOENT ? -ENODEV : -e,
                    "/dev/fuse: %s (load the fuse module, or pass --device /dev/fuse to the container)", strerror(e));
    }

    struct vfs_session *s = calloc(1, sizeof *s);
    if (s == NULL) return fail(errbuf, errbuf_len, -ENOMEM, "out of memory");
    s->ops = *ops;
    s->state = state;
    s->uid = getuid();
    s->gid = getgid();
    pthread_mutex_init(&s->lock, NULL);
    pthread_rwlock_init(&s->mount_lock, NULL);

    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    r = fuse_opt_add_arg(&args, "vfsmount") != 0 ? -ENOMEM : 0;
    if (r == 0) r = add_opt(&args, "fsname=vfsmount,subtype=vfsmount");
    for (const char *const *o = options; r == 0 && o != NULL && *o != NULL; o++)
        r = add_opt(&args, *o);
    if (r != 0) {
        fuse_opt_free_args(&args);
        free(s);
        return fail(errbuf, errbuf_len, r, "out of memory");
    }

    char captured[512] = "";
    tls_capture = captured;
    tls_capture_len = sizeof captured;
    tls_capture_done = 0;
    s->fuse = fuse_new(&args, &fuse_ops, sizeof fuse_ops, s);
    if (s->fuse == NULL) {
        r = fail(errbuf, errbuf_len, -EINVAL, "%s", captured[0] ? captured : "fuse_new failed (bad option?)");
    } else if (fuse_mount(s->fuse, mountpoint) != 0) {
        r = fail(errbuf, errbuf_len, -EIO, "%s", captured[0] ? captured : "fuse_mount failed");
        fuse_destroy(s->fuse);
    }
    tls_capture = NULL;
    fuse_opt_free_args(&args);
    if (r != 0) {
        pthread_rwlock_destroy(&s->mount_lock);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return r;
    }
    s->mounted = 1;
    *session_out = s;
    return 0;
}

/* Closes /dev/fuse and detaches the mount (libfuse: lazily). Waits up to 2 s
 * for in-flight invalidations; one blocked in the kernel holds its own
 * reference to the file, so closing the descriptor under it is safe. */
static void session_unmount(struct vfs_session *s)
{
    __atomic_store_n(&s->closing, 1, __ATOMIC_SEQ_CST);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    int r;
    do r = pthread_rwlock_timedwrlock(&s->mount_lock, &until); while (r == EINTR);
    if (s->mounted) {
        fuse_unmount(s->fuse);
        s->mounted = 0;
    }
    if (r == 0) pthread_rwlock_unlock(&s->mount_lock);
}

int32_t vfs_loop(void *session, int32_t max_threads)
{
    struct vfs_session *s = session;
    if (s == NULL) return -EINVAL;
    pthread_once(&wake_once, install_wake_handler);

    pthread_mutex_lock(&s->lock);
    int again = s->loop_running || s->loop_done;
    int early_exit = !again && s->exit_requested;
    if (early_exit) {
        s->loop_done = 1;
    } else if (!again) {
        s->loop_thread = pthread_self();
        s->loop_running = 1;
    }
    pthread_mutex_unlock(&s->lock);
    if (again) return -EBUSY;
    if (early_exit) { /* vfs_exit came first: nothing to serve */
        session_unmount(s);
        return 0;
    }

    int r = -ENOMEM;
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (cfg != NULL) {
        fuse_loop_cfg_set_clone_fd(cfg, 0);
        fuse_loop_cfg_set_max_threads(cfg, max_threads > 0 ? (unsigned)max_threads : VFS_DEFAULT_THREADS);
        fuse_loop_cfg_set_idle_threads(cfg, VFS_DEFAULT_THREADS);
        r = fuse_loop_mt(s->fuse, cfg);
        fuse_loop_cfg_destroy(cfg);
    }

    pthread_mutex_lock(&s->lock);
    s->loop_running = 0;
    s->loop_done = 1;
    pthread_mutex_unlock(&s->lock);

    session_unmount(s);
    if (r == -1) r = -EIO; /* fuse_loop_mt's "could not start" */
    return r < 0 ? r : (r > 0 ? -r : 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Sends VFS_WAKE_SIGNAL to the loop thread until the loop has returned: one
 * signal can land between the loop's exit-flag check and its sem_wait. */
static void *waker_main(void *arg)
{
    struct vfs_session *s = arg;
    for (int i = 0; i < VFS_WAKE_TRIES; i++) {
        pthread_mutex_lock(&s->lock);
        int running = s->loop_running;
        if (running) pthread_kill(s->loop_thread, VFS_WAKE_SIGNAL);
        pthread_mutex_unlock(&s->lock);
        if (!running) break; /* done, or never started: vfs_loop sees exit_requested */
        sleep_ms(VFS_WAKE_INTERVAL_MS);
    }
    return NULL;
}

void vfs_exit(void *session)
{
    struct vfs_session *s = session;
    if (s == NULL) return;
    pthread_mutex_lock(&s->lock);
    if (!s->exit_requested) {
        s->exit_requested = 1;
        fuse_exit(s->fuse);
        /* The helper thread takes no signals: process-directed ones
         * (SIGTERM, SIGINT) stay with the runtime's threads. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        s->has_waker = pthread_create(&s->waker, NULL, waker_main, s) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!s->has_waker && s->loop_running) pthread_kill(s->loop_thread, VFS_WAKE_SIGNAL);
    }
    pthread_mutex_unlock(&s->lock);
}

void vfs_destroy(void *session)
{
    struct vfs_session *s = session;
    if (s == NULL) return;
    pthread_mutex_lock(&s->lock);
    int running = s->loop_running;
    pthread_mutex_unlock(&s->lock);
    if (running) {
        /* Freeing under a running loop would crash later; leak instead. */
        internal_error("vfs_destroy called while vfs_loop runs; session leaked");
        return;
    }
    if (s->has_waker) pthread_join(s->waker, NULL);
    session_unmount(s);
    fuse_destroy(s->fuse);
    pthread_rwlock_destroy(&s->mount_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int32_t vfs_invalidate_path(void *session, const char *path)
{
    struct vfs_session *s = session;
    if (s == NULL || path == NULL) return -EINVAL;
    if (__atomic_load_n(&s->closing, __ATOMIC_SEQ_CST)) return -ENOTCONN;
    int r;
    do r = pthread_rwlock_rdlock(&s->mount_lock); while (r == EINTR);
    if (r != 0) return -r;
    if (!s->mounted || __atomic_load_n(&s->closing, __ATOMIC_SEQ_CST)) {
        r = -ENOTCONN;
    } else {
        do r = fuse_invalidate_path(s->fuse, path); while (r == -EINTR);
    }
    pthread_rwlock_unlock(&s->mount_lock);
    return r;
}
