/* See vfsposix.h. */
#define _GNU_SOURCE
#include "vfsposix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VFS_EXPORT __attribute__((visibility("default")))

VFS_EXPORT int vfs_posix_constants(struct vfs_posix_constants *out, int32_t capacity)
{
    if (capacity < (int32_t)sizeof *out)
        return -1;
    *out = (struct vfs_posix_constants){
        .size = sizeof *out,
        .o_rdonly = O_RDONLY, .o_wronly = O_WRONLY, .o_rdwr = O_RDWR, .o_creat = O_CREAT,
        .o_excl = O_EXCL, .o_trunc = O_TRUNC, .o_append = O_APPEND, .o_nonblock = O_NONBLOCK,
        .o_directory = O_DIRECTORY, .o_nofollow = O_NOFOLLOW, .o_cloexec = O_CLOEXEC, .o_path = O_PATH,
        .at_fdcwd = AT_FDCWD, .at_symlink_nofollow = AT_SYMLINK_NOFOLLOW, .at_empty_path = AT_EMPTY_PATH,
        .at_removedir = AT_REMOVEDIR,
        .resolve_beneath = RESOLVE_BENEATH, .resolve_no_symlinks = RESOLVE_NO_SYMLINKS,
        .lock_sh = LOCK_SH, .lock_ex = LOCK_EX, .lock_nb = LOCK_NB, .lock_un = LOCK_UN,
        .falloc_fl_keep_size = FALLOC_FL_KEEP_SIZE,
        .s_ifmt = S_IFMT, .s_ifdir = S_IFDIR, .s_ifreg = S_IFREG, .s_iflnk = S_IFLNK,
        .path_max = PATH_MAX,
        .e_perm = EPERM, .e_noent = ENOENT, .e_intr = EINTR, .e_io = EIO, .e_nxio = ENXIO,
        .e_again = EAGAIN, .e_acces = EACCES, .e_exist = EEXIST, .e_xdev = EXDEV, .e_notdir = ENOTDIR,
        .e_isdir = EISDIR, .e_inval = EINVAL, .e_nospc = ENOSPC, .e_nametoolong = ENAMETOOLONG,
        .e_nosys = ENOSYS, .e_notempty = ENOTEMPTY, .e_loop = ELOOP, .e_opnotsupp = EOPNOTSUPP,
    };
    return VFS_POSIX_ABI_VERSION;
}

VFS_EXPORT int vfs_openat2(int dirfd, const char *path, int64_t flags, int64_t mode, int64_t resolve)
{
    struct open_how how = { .flags = (uint64_t)flags, .mode = (uint64_t)mode, .resolve = (uint64_t)resolve };
    long fd;
    do
        fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : (int)fd;
}

VFS_EXPORT int vfs_clear_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        return -errno;
    return 0;
}
