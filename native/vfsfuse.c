/*
 * vfsfuse — see vfsfuse.h for the contract. This file is the only code that
 * touches libfuse: it converts libfuse's structs to the flat vfs_* types,
 * sends exactly one reply per request, negotiates every feature flag
 * (op_init), and owns mount, loop, exit, unmount and kernel notifications.
 *
 * Low-level API, as libfuse's passthrough_ll/passthrough_hp: the kernel
 * speaks in node ids, so C# keeps a node table (ids, lookup counts, forget)
 * and chooses every cache timeout; libfuse builds no paths and keeps no
 * inode table of its own.
 */
#define FUSE_USE_VERSION 312
#define _GNU_SOURCE

#include "vfsfuse.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define VFS_WAKE_SIGNAL SIGURG
#define VFS_MAX_WRITE (1u << 20)
#define VFS_DEFAULT_THREADS 10
#define VFS_WAKE_INTERVAL_MS 10
#define VFS_WAKE_TRIES 500 /* 5 s */

struct vfs_session {
    struct fuse_session *se;
    vfs_ops ops;
    void *state;

    /* Lock order: mount_lock before lock. Neither is held while a callback
     * runs; `lock` is held only for a few stores and one pthread_kill. */

    /* Guards the loop/exit bookkeeping below. */
    pthread_mutex_t lock;
    pthread_t loop_thread;
    int loop_running;   /* the loop thread is inside fuse_session_loop_mt */
    int loop_done;      /* vfs_loop has returned or will not run */
    int exit_requested;
    int has_waker;
    pthread_t waker;

    /* Read-held while a vfs_notify_* writes to /dev/fuse; write-held to
     * close that fd (unmount), so no notification goes to a closed — or
     * reused — descriptor number. */
    pthread_rwlock_t mount_lock;
    int mounted;
    volatile int closing; /* set before unmount; new notifications bail out */

    /* Set in op_init when the kernel takes ENOSYS from opendir as "no opendir/releasedir
     * ever again" (see op_opendir). */
    int no_opendir;
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

static struct vfs_session *session_of(fuse_req_t req) { return (struct vfs_session *)fuse_req_userdata(req); }

static vfs_req caller_of(fuse_req_t req)
{
    const struct fuse_ctx *cx = fuse_req_ctx(req);
    vfs_req r = {(uint32_t)cx->uid, (uint32_t)cx->gid, (int32_t)cx->pid, (uint32_t)cx->umask};
    return r;
}

static mode_t kind_to_type(uint32_t kind)
{
    switch (kind) {
    case VFS_KIND_DIR: return S_IFDIR;
    case VFS_KIND_REG: return S_IFREG;
    case VFS_KIND_SYMLINK: return S_IFLNK;
    case VFS_KIND_FIFO: return S_IFIFO;
    case VFS_KIND_SOCKET: return S_IFSOCK;
    case VFS_KIND_CHAR: return S_IFCHR;
    case VFS_KIND_BLOCK: return S_IFBLK;
    default: return 0;
    }
}

/* The kind of a mode's file type, or UINT32_MAX for one the view does not know. */
static uint32_t type_to_kind(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return VFS_KIND_DIR;
    case S_IFREG: return VFS_KIND_REG;
    case S_IFLNK: return VFS_KIND_SYMLINK;
    case S_IFIFO: return VFS_KIND_FIFO;
    case S_IFSOCK: return VFS_KIND_SOCKET;
    case S_IFCHR: return VFS_KIND_CHAR;
    case S_IFBLK: return VFS_KIND_BLOCK;
    default: return UINT32_MAX;
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

static double ns_to_s(int64_t ns) { return ns <= 0 ? 0.0 : (double)ns / 1e9; }

/* 0, or -EIO (with an INTERNAL ERROR line) when C# gave an unknown kind. */
static int to_stat(const vfs_attr *a, struct stat *st)
{
    mode_t type = kind_to_type(a->kind);
    memset(st, 0, sizeof *st);
    if (type == 0) {
        internal_error("attributes with an unknown kind");
        return -EIO;
    }
    st->st_ino = a->ino;
    st->st_mode = type | (a->perm & 07777);
    st->st_nlink = a->nlink; /* 0: an open file whose last name is gone */
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_rdev = makedev(a->rdev >> 20, a->rdev & 0xfffffu);
    st->st_size = a->size;
    st->st_blksize = 4096;
    st->st_blocks = (a->size + 511) / 512;
    st->st_atim = ns_to_ts(a->atime_ns);
    st->st_mtim = ns_to_ts(a->mtime_ns);
    st->st_ctim = ns_to_ts(a->ctime_ns);
    return 0;
}

static int to_entry(const vfs_entry *e, struct fuse_entry_param *p)
{
    memset(p, 0, sizeof *p);
    p->ino = e->ino;
    p->generation = e->generation;
    p->entry_timeout = ns_to_s(e->entry_timeout_ns);
    p->attr_timeout = ns_to_s(e->attr.attr_timeout_ns);
    return to_stat(&e->attr, &p->attr); /* also for ino 0: a negative or "." entry's st_ino */
}

static uint32_t to_vfs_open_flags(int flags)
{
    uint32_t r = (uint32_t)(flags & O_ACCMODE); /* 0,1,2 on every Linux arch */
    if (flags & O_APPEND) r |= VFS_O_APPEND;
    if (flags & O_TRUNC) r |= VFS_O_TRUNC;
    if (flags & O_CREAT) r |= VFS_O_CREAT;
    if (flags & O_EXCL) r |= VFS_O_EXCL;
    return r;
}

static void apply_open(struct fuse_file_info *fi, const vfs_open *o)
{
    fi->fh = o->fh;
    fi->direct_io = o->direct_io != 0;
    fi->keep_cache = o->keep_cache != 0;
    fi->noflush = o->no_flush != 0; /* FOPEN_NOFLUSH: close(2) does not wait for a flush that does nothing */
}

static int64_t resolve_time(const struct timespec *ts, int now)
{
    if (now) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        return ts_to_ns(&t);
    }
    return ts_to_ns(ts);
}

/* ---- replies: each request ends in exactly one of these ------------------ */

static void reply_err(fuse_req_t req, int32_t r) { fuse_reply_err(req, r < 0 ? -r : (r == 0 ? 0 : EIO)); }

static void reply_entry(fuse_req_t req, int32_t r, const vfs_entry *e)
{
    struct fuse_entry_param p;
    if (r == 0) r = to_entry(e, &p);
    if (r != 0) reply_err(req, r);
    else fuse_reply_entry(req, &p);
}

static void reply_attr(fuse_req_t req, int32_t r, const vfs_attr *a)
{
    struct stat st;
    if (r == 0) r = to_stat(a, &st);
    if (r != 0) reply_err(req, r);
    else fuse_reply_attr(req, &st, ns_to_s(a->attr_timeout_ns));
}

/* ---- operations: one small function each, wired in `ll_ops` ------------- */

#define OP_OR_ENOSYS(s, op)                                                                                        \
    do {                                                                                                           \
        if ((s)->ops.op == NULL) {                                                                                 \
            fuse_reply_err(req, ENOSYS);                                                                           \
            return;                                                                                                \
        }                                                                                                          \
    } while (0)

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, lookup);
    vfs_req c = caller_of(req);
    vfs_entry e;
    memset(&e, 0, sizeof e);
    reply_entry(req, s->ops.lookup(s->state, &c, parent, name, &e), &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    struct vfs_session *s = session_of(req);
    if (s->ops.forget != NULL) s->ops.forget(s->state, ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    struct vfs_session *s = session_of(req);
    for (size_t i = 0; s->ops.forget != NULL && i < count; i++)
        s->ops.forget(s->state, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, getattr);
    vfs_req c = caller_of(req);
    vfs_attr a;
    memset(&a, 0, sizeof a);
    reply_attr(req, s->ops.getattr(s->state, &c, ino, fi ? fi->fh : 0, fi != NULL, &a), &a);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, setattr);
    vfs_req c = caller_of(req);
    uint32_t valid = 0;
    if (to_set & FUSE_SET_ATTR_MODE) valid |= VFS_SET_MODE;
    if (to_set & FUSE_SET_ATTR_UID) valid |= VFS_SET_UID;
    if (to_set & FUSE_SET_ATTR_GID) valid |= VFS_SET_GID;
    if (to_set & FUSE_SET_ATTR_SIZE) valid |= VFS_SET_SIZE;
    int64_t atime = VFS_TIME_OMIT, mtime = VFS_TIME_OMIT;
    if (to_set & FUSE_SET_ATTR_ATIME) {
        valid |= VFS_SET_ATIME;
        atime = resolve_time(&attr->st_atim, (to_set & FUSE_SET_ATTR_ATIME_NOW) != 0);
    }
    if (to_set & FUSE_SET_ATTR_MTIME) {
        valid |= VFS_SET_MTIME;
        mtime = resolve_time(&attr->st_mtim, (to_set & FUSE_SET_ATTR_MTIME_NOW) != 0);
    }
    vfs_attr a;
    memset(&a, 0, sizeof a);
    int r = s->ops.setattr(s->state, &c, ino, fi ? fi->fh : 0, fi != NULL, valid, attr->st_mode & 07777,
                           (uint32_t)attr->st_uid, (uint32_t)attr->st_gid, attr->st_size, atime, mtime, &a);
    reply_attr(req, r, &a);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, readlink);
    vfs_req c = caller_of(req);
    char buf[4097];
    buf[0] = '\0';
    int r = s->ops.readlink(s->state, &c, ino, buf, sizeof buf);
    buf[sizeof buf - 1] = '\0';
    if (r != 0) reply_err(req, r);
    else fuse_reply_readlink(req, buf);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, mkdir);
    vfs_req c = caller_of(req);
    vfs_entry e;
    memset(&e, 0, sizeof e);
    reply_entry(req, s->ops.mkdir(s->state, &c, parent, name, mode & 07777, &e), &e);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, mknod);
    uint32_t kind = type_to_kind(mode);
    if (kind == UINT32_MAX || kind == VFS_KIND_DIR || kind == VFS_KIND_SYMLINK) { /* mknod(2) refuses these too;
                                                                                      S_IFREG is a plain create */
        fuse_reply_err(req, EINVAL);
        return;
    }
    vfs_req c = caller_of(req);
    vfs_entry e;
    memset(&e, 0, sizeof e);
    reply_entry(req, s->ops.mknod(s->state, &c, parent, name, kind, mode & 07777, VFS_DEV(major(rdev), minor(rdev)), &e),
                &e);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, link);
    vfs_req c = caller_of(req);
    vfs_entry e;
    memset(&e, 0, sizeof e);
    reply_entry(req, s->ops.link(s->state, &c, ino, newparent, newname, &e), &e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, unlink);
    vfs_req c = caller_of(req);
    reply_err(req, s->ops.unlink(s->state, &c, parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, rmdir);
    vfs_req c = caller_of(req);
    reply_err(req, s->ops.rmdir(s->state, &c, parent, name));
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, symlink);
    vfs_req c = caller_of(req);
    vfs_entry e;
    memset(&e, 0, sizeof e);
    reply_entry(req, s->ops.symlink(s->state, &c, target, parent, name, &e), &e);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, rename);
    if (flags & ~(VFS_RENAME_NOREPLACE | VFS_RENAME_EXCHANGE)) { /* RENAME_WHITEOUT */
        fuse_reply_err(req, EINVAL);
        return;
    }
    vfs_req c = caller_of(req);
    reply_err(req, s->ops.rename(s->state, &c, parent, name, newparent, newname, flags));
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, open);
    vfs_req c = caller_of(req);
    vfs_open o;
    memset(&o, 0, sizeof o);
    int r = s->ops.open(s->state, &c, ino, to_vfs_open_flags(fi->flags), &o);
    if (r != 0) {
        reply_err(req, r);
        return;
    }
    apply_open(fi, &o);
    if (fuse_reply_open(req, fi) == -ENOENT && s->ops.release != NULL)
        s->ops.release(s->state, o.fh); /* the opener was interrupted: nobody will release it */
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, create);
    vfs_req c = caller_of(req);
    vfs_entry e;
    vfs_open o;
    memset(&e, 0, sizeof e);
    memset(&o, 0, sizeof o);
    struct fuse_entry_param p;
    int r = s->ops.create(s->state, &c, parent, name, mode & 07777, to_vfs_open_flags(fi->flags) | VFS_O_CREAT,
                          &e, &o);
    if (r == 0 && (r = to_entry(&e, &p)) != 0 && s->ops.release != NULL) s->ops.release(s->state, o.fh);
    if (r != 0) {
        reply_err(req, r);
        return;
    }
    apply_open(fi, &o);
    if (fuse_reply_create(req, &p, fi) == -ENOENT) {
        if (s->ops.release != NULL) s->ops.release(s->state, o.fh);
        if (s->ops.forget != NULL) s->ops.forget(s->state, e.ino, 1);
    }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)ino;
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, read);
    if (size > VFS_MAX_WRITE) size = VFS_MAX_WRITE; /* never happens: max_read is max_write */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int r = s->ops.read(s->state, fi->fh, (uint8_t *)buf, (uint32_t)size, off);
    if (r < 0) reply_err(req, r);
    else fuse_reply_buf(req, buf, (size_t)r);
    free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    (void)ino;
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, write);
    if (size > INT32_MAX) { /* never happens: max_write is 1 MiB */
        fuse_reply_err(req, EFBIG);
        return;
    }
    vfs_req c = caller_of(req);
    int r = s->ops.write(s->state, &c, fi->fh, (const uint8_t *)buf, (uint32_t)size, off);
    if (r < 0) reply_err(req, r);
    else fuse_reply_write(req, (size_t)r);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct vfs_session *s = session_of(req);
    reply_err(req, s->ops.flush ? s->ops.flush(s->state, fi->fh) : 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct vfs_session *s = session_of(req);
    reply_err(req, s->ops.release ? s->ops.release(s->state, fi->fh) : 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino;
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, fsync);
    reply_err(req, s->ops.fsync(s->state, fi->fh, datasync != 0));
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct vfs_session *s = session_of(req);
    /* The kernel then opens every directory itself, with FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR
     * (fuse_do_open in fs/fuse/file.c), and sends no releasedir: two requests fewer per
     * directory listed, and listings cached until invalidated (readdir gets fh 0). */
    if (s->no_opendir) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    OP_OR_ENOSYS(s, opendir);
    vfs_req c = caller_of(req);
    vfs_open o;
    memset(&o, 0, sizeof o);
    int r = s->ops.opendir(s->state, &c, ino, &o);
    if (r != 0) {
        reply_err(req, r);
        return;
    }
    fi->fh = o.fh;
    /* Listings are cached as with no opendir: every change through the mount drops the
     * directory's cache in the kernel (fuse_dir_changed), changes by others through the host's
     * notifications, and at worst when the directory's mtime moves (AUTO_INVAL_DATA). */
    fi->cache_readdir = 1;
    fi->keep_cache = 1;
    if (fuse_reply_open(req, fi) == -ENOENT && s->ops.releasedir != NULL) s->ops.releasedir(s->state, o.fh);
}

struct dir_ctx {
    fuse_req_t req;
    char *buf;
    size_t size;
    size_t used;
    int plus;
};

int32_t vfs_add_dirent(void *dir_ctx, const char *name, int64_t next_off, const vfs_entry *entry)
{
    struct dir_ctx *d = dir_ctx;
    size_t left = d->size - d->used;
    size_t n;
    if (d->plus) {
        struct fuse_entry_param p;
        if (to_entry(entry, &p) != 0) return 1;
        n = fuse_add_direntry_plus(d->req, d->buf + d->used, left, name, &p, next_off);
    } else {
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_ino = entry->attr.ino; /* never 0: glibc's readdir skips such entries as deleted */
        st.st_mode = kind_to_type(entry->attr.kind);
        n = fuse_add_direntry(d->req, d->buf + d->used, left, name, &st, next_off);
    }
    if (n > left) return 1;
    d->used += n;
    return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, int plus)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, readdir);
    vfs_req c = caller_of(req);
    struct dir_ctx d = {req, malloc(size ? size : 1), size, 0, plus};
    if (d.buf == NULL) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int r = s->ops.readdir(s->state, &c, ino, fi->fh, off, plus, &d);
    if (r != 0 && d.used == 0) reply_err(req, r);
    else fuse_reply_buf(req, d.buf, d.used); /* a partial listing stands; the error comes next time */
    free(d.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct vfs_session *s = session_of(req);
    reply_err(req, s->ops.releasedir ? s->ops.releasedir(s->state, fi->fh) : 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct vfs_session *s = session_of(req);
    OP_OR_ENOSYS(s, statfs);
    vfs_statfs st;
    memset(&st, 0, sizeof st);
    int r = s->ops.statfs(s->state, ino, &st);
    if (r != 0) {
        reply_err(req, r);
        return;
    }
    struct statvfs out;
    memset(&out, 0, sizeof out);
    out.f_bsize = st.bsize;
    out.f_frsize = st.frsize ? st.frsize : st.bsize;
    out.f_blocks = st.blocks;
    out.f_bfree = st.bfree;
    out.f_bavail = st.bavail;
    out.f_files = st.files;
    out.f_ffree = st.ffree;
    out.f_favail = st.ffree;
    out.f_namemax = st.namemax ? st.namemax : 255;
    fuse_reply_statfs(req, &out);
}

/* The single place where protocol features are chosen, one a line. Cache
 * timeouts are C#'s (per reply). */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    struct vfs_session *s = userdata;
    /* One write request carries up to 1 MiB (libfuse caps it at its buffer,
     * 256 pages; it negotiates FUSE_MAX_PAGES so the kernel goes past 32):
     * a 1 MiB log write is one atomic append. */
    conn->max_write = VFS_MAX_WRITE;
    /* No writeback cache: a write(2) must reach the view before it returns
     * (log durability, validation errors reported by write). */
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    /* open(O_TRUNC) arrives as one open with VFS_O_TRUNC, not open+setattr,
     * so a document handle can start with an empty staged copy. */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* Cached pages are dropped when a getattr shows a new size or mtime:
     * other programs change scratch files and documents underneath. */
    if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    /* ls -l gets names and attributes in one round trip per buffer. */
    if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
    /* ... but plain readdir when a program only lists names. */
    if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO) conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
    /* Lookups and readdirs in one directory run concurrently: the view
     * locks what it needs itself. */
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    /* The kernel sends the caller's umask and leaves it to us, so a created
     * file's mode is the caller's mode less the caller's umask, never the
     * daemon's. */
    if (conn->capable & FUSE_CAP_DONT_MASK) conn->want |= FUSE_CAP_DONT_MASK;
    /* Directories need no open: the kernel lists them from the node, keeps their listings
     * cached (FOPEN_CACHE_DIR) and sends neither opendir nor releasedir. */
    if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
        conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
        s->no_opendir = 1;
    }
    /* Node ids are not stable across mounts: no NFS export. */
    conn->want &= ~FUSE_CAP_EXPORT_SUPPORT;
}

static const struct fuse_lowlevel_ops ll_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readlink = op_readlink,
    .mkdir = op_mkdir,
    .mknod = op_mknod,
    .link = op_link,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .releasedir = op_releasedir,
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
    pthread_mutex_init(&s->lock, NULL);
    pthread_rwlock_init(&s->mount_lock, NULL);

    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    r = fuse_opt_add_arg(&args, "vfsmount") != 0 ? -ENOMEM : 0;
    if (r == 0) r = add_opt(&args, "fsname=vfsmount,subtype=vfsmount");
    /* The kernel checks permissions against the owner and mode each node
     * presents (SPEC 2.5): the mount never lets a user do what the store's
     * own permissions would refuse. Not optional. */
    if (r == 0) r = add_opt(&args, "default_permissions");
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
    s->se = fuse_session_new(&args, &ll_ops, sizeof ll_ops, s);
    if (s->se == NULL) {
        r = fail(errbuf, errbuf_len, -EINVAL, "%s", captured[0] ? captured : "fuse_session_new failed (bad option?)");
    } else if (fuse_session_mount(s->se, mountpoint) != 0) {
        r = fail(errbuf, errbuf_len, -EIO, "%s", captured[0] ? captured : "fuse_session_mount failed");
        fuse_session_destroy(s->se);
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

/* Closes /dev/fuse and detaches the mount (lazily). Waits up to 2 s for
 * in-flight notifications; one blocked in the kernel holds its own
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
        fuse_session_unmount(s->se);
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
        r = fuse_session_loop_mt(s->se, cfg);
        fuse_loop_cfg_destroy(cfg);
    }

    pthread_mutex_lock(&s->lock);
    s->loop_running = 0;
    s->loop_done = 1;
    pthread_mutex_unlock(&s->lock);

    session_unmount(s);
    if (r == -1) r = -EIO; /* the loop's "could not start" */
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
        fuse_session_exit(s->se);
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
    fuse_session_destroy(s->se);
    pthread_rwlock_destroy(&s->mount_lock);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- notifications ------------------------------------------------------ */

/* Holds mount_lock (read) around one notification so unmount cannot close
 * the descriptor under it. Returns -ENOTCONN once unmounting. */
static int begin_notify(struct vfs_session *s)
{
    if (s == NULL) return -EINVAL;
    if (__atomic_load_n(&s->closing, __ATOMIC_SEQ_CST)) return -ENOTCONN;
    int r;
    do r = pthread_rwlock_rdlock(&s->mount_lock); while (r == EINTR);
    if (r != 0) return -r;
    if (!s->mounted || __atomic_load_n(&s->closing, __ATOMIC_SEQ_CST)) {
        pthread_rwlock_unlock(&s->mount_lock);
        return -ENOTCONN;
    }
    return 0;
}

int32_t vfs_notify_inval_entry(void *session, uint64_t parent, const char *name)
{
    struct vfs_session *s = session;
    if (name == NULL) return -EINVAL;
    int r = begin_notify(s);
    if (r != 0) return r;
    do r = fuse_lowlevel_notify_inval_entry(s->se, parent, name, strlen(name)); while (r == -EINTR);
    pthread_rwlock_unlock(&s->mount_lock);
    return r;
}

int32_t vfs_notify_inval_inode(void *session, uint64_t ino, int64_t off, int64_t len)
{
    struct vfs_session *s = session;
    int r = begin_notify(s);
    if (r != 0) return r;
    do r = fuse_lowlevel_notify_inval_inode(s->se, ino, off, len); while (r == -EINTR);
    pthread_rwlock_unlock(&s->mount_lock);
    return r;
}

int32_t vfs_notify_delete(void *session, uint64_t parent, uint64_t child, const char *name)
{
    struct vfs_session *s = session;
    if (name == NULL) return -EINVAL;
    int r = begin_notify(s);
    if (r != 0) return r;
    do r = fuse_lowlevel_notify_delete(s->se, parent, child, name, strlen(name)); while (r == -EINTR);
    pthread_rwlock_unlock(&s->mount_lock);
    return r;
}
