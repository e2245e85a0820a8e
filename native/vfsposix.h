/*
 * libvfsposix.so: the C library's constants as this platform defines them, and the system
 * calls glibc does not wrap, for the store (src/VfsMount.Store/Posix/PosixConstants.cs).
 * No libfuse: `vfsmount check` and the store tests load it without a mount.
 *
 * Every field is a fixed-width int32 in the order below; C# checks VFS_POSIX_ABI_VERSION and
 * the size at load. Add fields only at the end, and bump the version.
 */
#ifndef VFSPOSIX_H
#define VFSPOSIX_H

#include <stdint.h>

#define VFS_POSIX_ABI_VERSION 1

struct vfs_posix_constants {
    int32_t size; /* sizeof(struct vfs_posix_constants), filled in by the library */
    /* open(2) */
    int32_t o_rdonly, o_wronly, o_rdwr, o_creat, o_excl, o_trunc, o_append, o_nonblock;
    int32_t o_directory, o_nofollow, o_cloexec, o_path;
    /* *at(2) */
    int32_t at_fdcwd, at_symlink_nofollow, at_empty_path, at_removedir;
    /* openat2(2) resolve flags (they fit 32 bits) */
    int32_t resolve_beneath, resolve_no_symlinks;
    /* flock(2), fallocate(2) */
    int32_t lock_sh, lock_ex, lock_nb, lock_un, falloc_fl_keep_size;
    /* struct stat's st_mode */
    int32_t s_ifmt, s_ifdir, s_ifreg, s_iflnk;
    /* limits */
    int32_t path_max;
    /* errno values the store tells apart */
    int32_t e_perm, e_noent, e_intr, e_io, e_nxio, e_again, e_acces, e_exist, e_xdev, e_notdir;
    int32_t e_isdir, e_inval, e_nospc, e_nametoolong, e_nosys, e_notempty, e_loop, e_opnotsupp;
};

/* Fills *out (capacity bytes) and returns VFS_POSIX_ABI_VERSION; -1 when capacity is too small. */
int vfs_posix_constants(struct vfs_posix_constants *out, int32_t capacity);

/*
 * openat2(2) (glibc 2.36 has no wrapper). Returns a descriptor or -errno; EINTR retried here.
 * -ENOSYS on a kernel older than 5.6.
 */
int vfs_openat2(int dirfd, const char *path, int64_t flags, int64_t mode, int64_t resolve);

/* Clears O_NONBLOCK on fd (set only so that opening a planted FIFO cannot block). 0 or -errno. */
int vfs_clear_nonblock(int fd);

#endif
