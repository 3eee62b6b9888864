/*
 * test_metadata.c: the metadata calls through the C ABI (chmod,
 * chown, access, utimens, extended attributes, statfs, fallocate), run with
 * the same expectations in locked and lockless mode, on the default instance
 * and on explicit instances.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ermfs.h"

/* The wall clock's seconds, to compare UTIME_NOW with. */
static time_t now_s(void) {
    struct timespec t;
    CHECK(clock_gettime(CLOCK_REALTIME, &t) == 0);
    return t.tv_sec;
}

static void modes_and_owners(const ermfs_t *fs, const char *a, const char *dir) {
    struct stat st;
    CHECK(ermfs_fs_chmod(fs, a, 0600) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
    CHECK(ermfs_fs_chmod(fs, a, 0104755) == 0); /* file type bits are ignored */
    CHECK(ermfs_fs_stat(fs, a, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 04755);
    CHECK(ermfs_fs_chmod(fs, dir, 01777) == 0);
    CHECK(ermfs_fs_stat(fs, dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 01777);
    CHECK(ermfs_fs_chmod(fs, dir, 0755) == 0);
    CHECK_ERR(ermfs_fs_chmod(fs, "/no/such", 0644), ENOENT);
    CHECK_ERR(ermfs_fs_chmod(fs, NULL, 0644), EFAULT);

    /* chown: -1 keeps a field; a regular file loses set-user-ID and a
     * group-executable set-group-ID */
    CHECK(ermfs_fs_stat(fs, a, &st) == 0 && st.st_uid == getuid() && st.st_gid == getgid());
    CHECK(ermfs_fs_chmod(fs, a, 06750) == 0);
    CHECK(ermfs_fs_chown(fs, a, 1000, 2000) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0 && st.st_uid == 1000 && st.st_gid == 2000);
    CHECK((st.st_mode & 07777) == 0750);
    CHECK(ermfs_fs_chown(fs, a, (uid_t)-1, 3000) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0 && st.st_uid == 1000 && st.st_gid == 3000);
    CHECK_ERR(ermfs_fs_chown(fs, "/no/such", 0, 0), ENOENT);
    CHECK_ERR(ermfs_fs_chown(fs, NULL, 0, 0), EFAULT);

    /* the descriptor forms, on a read-only descriptor too */
    int fd = ermfs_fs_open(fs, a, O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK(ermfs_fs_fchmod(fs, fd, 0640) == 0);
    CHECK(ermfs_fs_fchown(fs, fd, (uid_t)-1, (gid_t)-1) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && (st.st_mode & 07777) == 0640);
    CHECK(st.st_uid == 1000 && st.st_gid == 3000);
    CHECK(ermfs_fs_close(fs, fd) == 0);
    CHECK_ERR(ermfs_fs_fchmod(fs, fd, 0644), EBADF);
    CHECK_ERR(ermfs_fs_fchown(fs, fd, 0, 0), EBADF);
}

/* `a` is 0640, owned by 1000:3000. */
static void access_checks(const ermfs_t *fs, const char *a, const char *dir) {
    char priv[96], hidden[128];
    snprintf(priv, sizeof priv, "%s/priv", dir);
    snprintf(hidden, sizeof hidden, "%s/priv/missing", dir);
    const gid_t groups[] = {5, 3000};

    CHECK(ermfs_fs_access_as(fs, a, R_OK | W_OK, 1000, 1000, NULL, 0) == 0);
    CHECK_ERR(ermfs_fs_access_as(fs, a, X_OK, 1000, 1000, NULL, 0), EACCES);
    CHECK(ermfs_fs_access_as(fs, a, R_OK, 2000, 3000, NULL, 0) == 0);
    CHECK_ERR(ermfs_fs_access_as(fs, a, W_OK, 2000, 3000, NULL, 0), EACCES);
    CHECK(ermfs_fs_access_as(fs, a, R_OK, 4000, 4000, groups, 2) == 0);
    CHECK_ERR(ermfs_fs_access_as(fs, a, R_OK, 4000, 4000, groups, 1), EACCES);
    CHECK(ermfs_fs_access_as(fs, a, F_OK, 4000, 4000, NULL, 0) == 0);
    /* the owner class decides, with no fall-through to group or others */
    CHECK(ermfs_fs_chmod(fs, a, 0077) == 0);
    CHECK_ERR(ermfs_fs_access_as(fs, a, R_OK, 1000, 3000, NULL, 0), EACCES);
    CHECK(ermfs_fs_chmod(fs, a, 0640) == 0);
    /* root: reads and writes anything, executes only with an execute bit */
    CHECK(ermfs_fs_access_as(fs, a, R_OK | W_OK, 0, 0, NULL, 0) == 0);
    CHECK_ERR(ermfs_fs_access_as(fs, a, X_OK, 0, 0, NULL, 0), EACCES);
    CHECK(ermfs_fs_chmod(fs, a, 0641) == 0);
    CHECK(ermfs_fs_access_as(fs, a, X_OK, 0, 0, NULL, 0) == 0);
    CHECK(ermfs_fs_chmod(fs, a, 0640) == 0);
    /* search permission on the way, before the lookup */
    CHECK(ermfs_fs_mkdir(fs, priv, 0700) == 0);
    CHECK(ermfs_fs_chown(fs, priv, 1000, 1000) == 0);
    CHECK_ERR(ermfs_fs_access_as(fs, hidden, F_OK, 2000, 2000, NULL, 0), EACCES);
    CHECK_ERR(ermfs_fs_access_as(fs, hidden, F_OK, 1000, 1000, NULL, 0), ENOENT);
    CHECK_ERR(ermfs_fs_access_as(fs, hidden, F_OK, 0, 0, NULL, 0), ENOENT);
    CHECK(ermfs_fs_access_as(fs, priv, R_OK | W_OK | X_OK, 0, 0, NULL, 0) == 0);
    CHECK(ermfs_fs_rmdir(fs, priv) == 0);
    /* removal: write and search on the parent; in a sticky directory only
     * the entry's owner, the directory's owner or root */
    CHECK(ermfs_fs_may_delete_as(fs, a, 0, 0, NULL, 0) == 0);
    CHECK_ERR(ermfs_fs_may_delete_as(fs, a, 1000, 3000, groups, 2), EACCES);
    CHECK(ermfs_fs_chmod(fs, dir, 01777) == 0);
    CHECK(ermfs_fs_may_delete_as(fs, a, 1000, 1000, NULL, 0) == 0);
    CHECK_ERR(ermfs_fs_may_delete_as(fs, a, 2000, 3000, NULL, 0), EPERM);
    CHECK(ermfs_fs_may_delete_as(fs, a, getuid(), 0, NULL, 0) == 0); /* the directory's owner */
    CHECK(ermfs_fs_chmod(fs, dir, 0755) == 0);
    CHECK_ERR(ermfs_fs_may_delete_as(fs, "/", 0, 0, NULL, 0), EBUSY);
    CHECK_ERR(ermfs_fs_may_delete_as(fs, hidden, 0, 0, NULL, 0), ENOENT);
    CHECK_ERR(ermfs_fs_may_delete_as(fs, a, 0, 0, NULL, 1), EFAULT);
    /* bad input */
    CHECK_ERR(ermfs_fs_access_as(fs, a, 0x40, 0, 0, NULL, 0), EINVAL);
    CHECK_ERR(ermfs_fs_access_as(fs, a, R_OK, 0, 0, NULL, 2), EFAULT);
    CHECK_ERR(ermfs_fs_access_as(fs, a, R_OK, 0, 0, groups, 65537), EINVAL);
    CHECK_ERR(ermfs_fs_access_as(fs, NULL, R_OK, 0, 0, NULL, 0), EFAULT);

    /* the process's own identity, as access(2) */
    CHECK(ermfs_fs_access(fs, a, F_OK) == 0);
    if (getuid() == 0) {
        CHECK(ermfs_fs_access(fs, a, R_OK | W_OK) == 0);
        CHECK_ERR(ermfs_fs_access(fs, a, X_OK), EACCES);
    } else if (getuid() != 1000) {
        CHECK_ERR(ermfs_fs_access(fs, a, W_OK), EACCES);
    }
    CHECK_ERR(ermfs_fs_access(fs, "/no/such", F_OK), ENOENT);
    CHECK_ERR(ermfs_fs_access(fs, a, -1), EINVAL);
}

static void times(const ermfs_t *fs, const char *a) {
    struct stat st;
    struct timespec t[2] = {{1000, 5}, {2000, 999999999}};
    CHECK(ermfs_fs_utimens(fs, a, t) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0);
    CHECK(st.st_atim.tv_sec == 1000 && st.st_atim.tv_nsec == 5);
    CHECK(st.st_mtim.tv_sec == 2000 && st.st_mtim.tv_nsec == 999999999);
    CHECK(st.st_ctim.tv_sec >= now_s() - 5); /* ctime is now */

    /* UTIME_OMIT keeps a time, UTIME_NOW takes the clock's */
    struct timespec t2[2] = {{0, UTIME_OMIT}, {3000, 1}};
    CHECK(ermfs_fs_utimens(fs, a, t2) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0);
    CHECK(st.st_atim.tv_sec == 1000 && st.st_atim.tv_nsec == 5);
    CHECK(st.st_mtim.tv_sec == 3000 && st.st_mtim.tv_nsec == 1);
    struct timespec t3[2] = {{12345, UTIME_NOW}, {0, UTIME_OMIT}};
    time_t before = now_s();
    CHECK(ermfs_fs_utimens(fs, a, t3) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0);
    CHECK(st.st_atim.tv_sec >= before && st.st_atim.tv_sec <= now_s());
    CHECK(st.st_mtim.tv_sec == 3000 && st.st_mtim.tv_nsec == 1);

    /* before the epoch, to the nanosecond */
    struct timespec t4[2] = {{-1, 500}, {-86400 * 365, 0}};
    CHECK(ermfs_fs_utimens(fs, a, t4) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0);
    CHECK(st.st_atim.tv_sec == -1 && st.st_atim.tv_nsec == 500);
    CHECK(st.st_mtim.tv_sec == -86400 * 365 && st.st_mtim.tv_nsec == 0);

    /* NULL: both now */
    before = now_s();
    CHECK(ermfs_fs_utimens(fs, a, NULL) == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0);
    CHECK(st.st_atim.tv_sec >= before && st.st_mtim.tv_sec >= before);

    /* errors: the path first, then a bad tv_nsec; both omitted is a no-op
     * that does not even look the path up */
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    CHECK_ERR(ermfs_fs_utimens(fs, a, bad), EINVAL);
    bad[0].tv_nsec = -1;
    CHECK_ERR(ermfs_fs_utimens(fs, a, bad), EINVAL);
    CHECK_ERR(ermfs_fs_utimens(fs, "/no/such", bad), ENOENT);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    CHECK(ermfs_fs_utimens(fs, "/no/such", omit) == 0);
    CHECK_ERR(ermfs_fs_utimens(fs, "/no/such", NULL), ENOENT);
    CHECK_ERR(ermfs_fs_utimens(fs, NULL, t), EFAULT);

    /* futimens on a read-only descriptor */
    int fd = ermfs_fs_open(fs, a, O_RDONLY, 0);
    CHECK(fd >= 0);
    struct timespec t5[2] = {{7, 7}, {8, 8}};
    CHECK(ermfs_fs_futimens(fs, fd, t5) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0);
    CHECK(st.st_atim.tv_sec == 7 && st.st_atim.tv_nsec == 7);
    CHECK(st.st_mtim.tv_sec == 8 && st.st_mtim.tv_nsec == 8);
    before = now_s();
    CHECK(ermfs_fs_futimens(fs, fd, NULL) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && st.st_mtim.tv_sec >= before);
    CHECK_ERR(ermfs_fs_futimens(fs, fd, bad), EINVAL);
    CHECK(ermfs_fs_close(fs, fd) == 0);
    CHECK_ERR(ermfs_fs_futimens(fs, fd, t5), EBADF);
    CHECK_ERR(ermfs_fs_futimens(fs, fd, bad), EBADF);
    CHECK(ermfs_fs_futimens(fs, fd, omit) == 0);
}

static void xattrs(const ermfs_t *fs, const char *a, const char *dir) {
    char buf[64];
    CHECK(ermfs_fs_setxattr(fs, a, "user.color", "blue", 4, 0) == 0);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "user.color", "red", 3, XATTR_CREATE), EEXIST);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "user.none", "x", 1, XATTR_REPLACE), ENODATA);
    CHECK(ermfs_fs_setxattr(fs, a, "user.color", "green", 5, XATTR_REPLACE) == 0);
    CHECK(ermfs_fs_setxattr(fs, a, "user.empty", NULL, 0, XATTR_CREATE) == 0);

    /* size queries, ERANGE, exact reads */
    CHECK(ermfs_fs_getxattr(fs, a, "user.color", NULL, 0) == 5);
    CHECK_ERR(ermfs_fs_getxattr(fs, a, "user.color", buf, 4), ERANGE);
    memset(buf, 0, sizeof buf);
    CHECK(ermfs_fs_getxattr(fs, a, "user.color", buf, sizeof buf) == 5);
    CHECK(memcmp(buf, "green", 5) == 0 && buf[5] == 0);
    CHECK(ermfs_fs_getxattr(fs, a, "user.empty", buf, sizeof buf) == 0);
    CHECK_ERR(ermfs_fs_getxattr(fs, a, "user.none", buf, sizeof buf), ENODATA);
    CHECK_ERR(ermfs_fs_getxattr(fs, a, "user.none", NULL, 0), ENODATA);

    /* the list: each name NUL-terminated, in descending byte order (tmpfs) */
    static const char want[] = "user.empty\0user.color";
    CHECK(ermfs_fs_listxattr(fs, a, NULL, 0) == (ssize_t)sizeof want);
    CHECK_ERR(ermfs_fs_listxattr(fs, a, buf, sizeof want - 1), ERANGE);
    CHECK(ermfs_fs_listxattr(fs, a, buf, sizeof buf) == (ssize_t)sizeof want);
    CHECK(memcmp(buf, want, sizeof want) == 0);
    CHECK(ermfs_fs_listxattr(fs, dir, buf, sizeof buf) == 0);

    /* names and sizes, in Linux's order */
    char long_name[300];
    memset(long_name, 'n', sizeof long_name);
    memcpy(long_name, "user.", 5);
    long_name[256] = 0; /* 256 bytes: one too many */
    CHECK_ERR(ermfs_fs_setxattr(fs, a, long_name, "v", 1, 0), ERANGE);
    CHECK_ERR(ermfs_fs_getxattr(fs, a, long_name, buf, sizeof buf), ERANGE);
    long_name[255] = 0; /* 255: the longest */
    CHECK(ermfs_fs_setxattr(fs, a, long_name, "v", 1, 0) == 0);
    CHECK(ermfs_fs_removexattr(fs, a, long_name) == 0);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "", "v", 1, 0), ERANGE);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "other.x", "v", 1, 0), EOPNOTSUPP);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "user.", "v", 1, 0), EINVAL);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "user.x", "v", 1, 4), EINVAL);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "user.x", "v", 65537, 0), E2BIG);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, "user.x", NULL, 3, 0), EFAULT);
    CHECK_ERR(ermfs_fs_setxattr(fs, a, NULL, "v", 1, 0), EFAULT);
    CHECK_ERR(ermfs_fs_setxattr(fs, NULL, "user.x", "v", 1, 0), EFAULT);
    CHECK_ERR(ermfs_fs_setxattr(fs, "/no/such", "user.x", "v", 1, 0), ENOENT);
    CHECK_ERR(ermfs_fs_getxattr(fs, "/no/such", "user.x", buf, 1), ENOENT);
    CHECK_ERR(ermfs_fs_listxattr(fs, "/no/such", buf, 1), ENOENT);
    CHECK_ERR(ermfs_fs_removexattr(fs, "/no/such", "user.x"), ENOENT);
    /* a NULL buffer faults after the file's own errors and ERANGE (Linux
     * fills its own buffer before copying out) */
    CHECK_ERR(ermfs_fs_getxattr(fs, a, "user.none", NULL, 8), ENODATA);
    CHECK_ERR(ermfs_fs_getxattr(fs, a, "user.color", NULL, 4), ERANGE);
    CHECK_ERR(ermfs_fs_getxattr(fs, a, "user.color", NULL, 8), EFAULT);
    CHECK_ERR(ermfs_fs_listxattr(fs, a, NULL, 8), ERANGE);
    CHECK_ERR(ermfs_fs_listxattr(fs, a, NULL, (size_t)-1), EFAULT);

    /* the largest value, read with a size past the cap (clamped, as Linux) */
    static char big[65536], back[65536];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
    CHECK(ermfs_fs_setxattr(fs, dir, "trusted.big", big, sizeof big, 0) == 0);
    CHECK(ermfs_fs_getxattr(fs, dir, "trusted.big", back, (size_t)-1) == 65536);
    CHECK(memcmp(big, back, sizeof big) == 0);
    CHECK(ermfs_fs_removexattr(fs, dir, "trusted.big") == 0);

    /* the descriptor forms (any access mode) */
    int fd = ermfs_fs_open(fs, a, O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK(ermfs_fs_fsetxattr(fs, fd, "security.label", "s0", 2, XATTR_CREATE) == 0);
    CHECK(ermfs_fs_fgetxattr(fs, fd, "security.label", NULL, 0) == 2);
    CHECK(ermfs_fs_fgetxattr(fs, fd, "security.label", buf, 2) == 2 && memcmp(buf, "s0", 2) == 0);
    CHECK(ermfs_fs_flistxattr(fs, fd, NULL, 0) == (ssize_t)(sizeof want + 15));
    CHECK(ermfs_fs_flistxattr(fs, fd, buf, sizeof buf) == (ssize_t)(sizeof want + 15));
    CHECK(ermfs_fs_fremovexattr(fs, fd, "security.label") == 0);
    CHECK_ERR(ermfs_fs_fremovexattr(fs, fd, "security.label"), ENODATA);
    CHECK_ERR(ermfs_fs_fgetxattr(fs, fd, "user.none", buf, 1), ENODATA);
    CHECK(ermfs_fs_close(fs, fd) == 0);
    /* the arguments are checked before the descriptor (Linux 6.18) */
    CHECK_ERR(ermfs_fs_fsetxattr(fs, fd, NULL, NULL, 1, 99), EINVAL);
    CHECK_ERR(ermfs_fs_fsetxattr(fs, fd, "user.x", "v", 65537, 0), E2BIG);
    CHECK_ERR(ermfs_fs_fsetxattr(fs, fd, "user.x", "v", 1, 0), EBADF);
    CHECK_ERR(ermfs_fs_fgetxattr(fs, fd, NULL, NULL, 1), EFAULT);
    CHECK_ERR(ermfs_fs_fgetxattr(fs, fd, "user.x", NULL, 1), EBADF);
    CHECK_ERR(ermfs_fs_flistxattr(fs, fd, NULL, 1), EBADF);
    CHECK_ERR(ermfs_fs_fremovexattr(fs, fd, NULL), EFAULT);
    CHECK_ERR(ermfs_fs_fremovexattr(fs, fd, "user.x"), EBADF);

    /* removal */
    CHECK(ermfs_fs_removexattr(fs, a, "user.color") == 0);
    CHECK_ERR(ermfs_fs_removexattr(fs, a, "user.color"), ENODATA);
    CHECK_ERR(ermfs_fs_removexattr(fs, a, NULL), EFAULT);
    CHECK(ermfs_fs_removexattr(fs, a, "user.empty") == 0);
    CHECK(ermfs_fs_listxattr(fs, a, buf, sizeof buf) == 0);
}

static void space(const ermfs_t *fs, const char *a) {
    struct statvfs v;
    CHECK(ermfs_fs_statfs(fs, &v) == 0);
    CHECK(v.f_bsize == 4096 && v.f_frsize == 4096 && v.f_namemax == 255);
    CHECK(v.f_blocks > 0 && v.f_bfree <= v.f_blocks && v.f_bavail == v.f_bfree);
    CHECK(v.f_files > 0 && v.f_ffree < v.f_files && v.f_favail == v.f_ffree);
    CHECK((v.f_flag & ST_RELATIME) != 0 && (v.f_flag & ST_RDONLY) == 0);
    CHECK_ERR(ermfs_fs_statfs(fs, NULL), EFAULT);

    int fd = ermfs_fs_open(fs, a, O_RDWR | O_TRUNC, 0);
    CHECK(fd >= 0);
    struct stat st;
    /* mode 0 extends with zeros, never shrinks */
    CHECK(ermfs_fs_fallocate(fs, fd, 0, 0, 8192) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && st.st_size == 8192);
    CHECK(ermfs_fs_fallocate(fs, fd, 0, 0, 100) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && st.st_size == 8192);
    /* KEEP_SIZE reserves without growing */
    CHECK(ermfs_fs_fallocate(fs, fd, FALLOC_FL_KEEP_SIZE, 0, 16384) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && st.st_size == 8192);
    /* PUNCH_HOLE | KEEP_SIZE zeroes the range */
    static char page[8192];
    memset(page, 'x', sizeof page);
    CHECK(ermfs_fs_pwrite(fs, fd, page, sizeof page, 0) == (ssize_t)sizeof page);
    CHECK(ermfs_fs_fallocate(fs, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 4096) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && st.st_size == 8192);
    char back[8192];
    CHECK(ermfs_fs_pread(fs, fd, back, sizeof back, 0) == 8192);
    CHECK(back[99] == 'x' && back[100] == 0 && back[4195] == 0 && back[4196] == 'x');
    /* errors, in Linux's order */
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, FALLOC_FL_PUNCH_HOLE, 0, 1), EOPNOTSUPP);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, FALLOC_FL_ZERO_RANGE, 0, 1), EOPNOTSUPP);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, 0x1000, 0, 1), EOPNOTSUPP);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, 0, 0, 0), EINVAL);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, 0, -1, 1), EINVAL);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, 0, INT64_MAX, 2), EFBIG);
    CHECK(ermfs_fs_close(fs, fd) == 0);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, 0, 0, 1), EBADF);
    fd = ermfs_fs_open(fs, a, O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, 0, 0, 1), EBADF);
    CHECK(ermfs_fs_close(fs, fd) == 0);
}

/* Hard links and symlinks: nlink, lstat vs stat, readlink's
 * truncation, ELOOP, O_NOFOLLOW, relative and dangling targets. */
static void links(const ermfs_t *fs, const char *dir) {
    char f[64], h[64], s[64], s2[64], l1[64], l2[64], dng[64], lng[64], odd[64];
    snprintf(f, sizeof f, "%s/f", dir);
    snprintf(h, sizeof h, "%s/h", dir);
    snprintf(s, sizeof s, "%s/s", dir);
    snprintf(s2, sizeof s2, "%s/s2", dir);
    snprintf(l1, sizeof l1, "%s/l1", dir);
    snprintf(l2, sizeof l2, "%s/l2", dir);
    snprintf(dng, sizeof dng, "%s/dangling", dir);
    snprintf(lng, sizeof lng, "%s/long", dir);
    snprintf(odd, sizeof odd, "%s/nope", dir);
    int fd = ermfs_fs_open(fs, f, O_CREAT | O_EXCL | O_RDWR, 0644);
    CHECK(fd >= 0 && ermfs_fs_write(fs, fd, "data", 4) == 4 && ermfs_fs_close(fs, fd) == 0);

    struct stat st, st2;
    CHECK(ermfs_fs_link(fs, f, h) == 0);
    CHECK(ermfs_fs_stat(fs, f, &st) == 0 && st.st_nlink == 2);
    CHECK(ermfs_fs_stat(fs, h, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_nlink == 2);
    CHECK_ERR(ermfs_fs_link(fs, f, h), EEXIST);
    CHECK_ERR(ermfs_fs_link(fs, dir, odd), EPERM);
    CHECK_ERR(ermfs_fs_link(fs, "/no/such", odd), ENOENT);
    CHECK_ERR(ermfs_fs_link(fs, NULL, odd), EFAULT);
    CHECK(ermfs_fs_unlink(fs, f) == 0);
    CHECK(ermfs_fs_stat(fs, h, &st) == 0 && st.st_nlink == 1 && st.st_size == 4);

    /* a relative target resolves against the link's directory */
    CHECK(ermfs_fs_symlink(fs, "h", s) == 0);
    CHECK(ermfs_fs_stat(fs, s, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
    CHECK(ermfs_fs_lstat(fs, s, &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 1);
    CHECK((st.st_mode & 07777) == 0777);
    char buf[16];
    memset(buf, 'x', sizeof buf);
    CHECK(ermfs_fs_readlink(fs, s, buf, sizeof buf) == 1 && buf[0] == 'h' && buf[1] == 'x');
    CHECK(ermfs_fs_symlink(fs, "abcdef", lng) == 0);
    CHECK(ermfs_fs_readlink(fs, lng, buf, 3) == 3 && memcmp(buf, "abc", 3) == 0);
    CHECK_ERR(ermfs_fs_readlink(fs, s, buf, 0), EINVAL);
    CHECK_ERR(ermfs_fs_readlink(fs, h, buf, sizeof buf), EINVAL);
    CHECK_ERR(ermfs_fs_readlink(fs, odd, buf, sizeof buf), ENOENT);
    CHECK_ERR(ermfs_fs_readlink(fs, s, NULL, sizeof buf), EFAULT);
    CHECK_ERR(ermfs_fs_symlink(fs, "", odd), ENOENT);
    CHECK_ERR(ermfs_fs_symlink(fs, "h", s), EEXIST);
    CHECK_ERR(ermfs_fs_symlink(fs, NULL, odd), EFAULT);
    CHECK_ERR(ermfs_fs_lstat(fs, s, NULL), EFAULT);
    CHECK_ERR(ermfs_fs_open(fs, s, O_RDONLY | O_NOFOLLOW, 0), ELOOP);

    /* loops and dangling links */
    CHECK(ermfs_fs_symlink(fs, l2, l1) == 0 && ermfs_fs_symlink(fs, l1, l2) == 0);
    CHECK_ERR(ermfs_fs_stat(fs, l1, &st), ELOOP);
    CHECK(ermfs_fs_lstat(fs, l1, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(ermfs_fs_symlink(fs, "missing", dng) == 0);
    CHECK_ERR(ermfs_fs_stat(fs, dng, &st), ENOENT);
    CHECK(ermfs_fs_lstat(fs, dng, &st) == 0);

    /* a hard link to a symlink links the symlink itself */
    CHECK(ermfs_fs_link(fs, s, s2) == 0);
    CHECK(ermfs_fs_lstat(fs, s2, &st) == 0 && S_ISLNK(st.st_mode) && st.st_nlink == 2);

    /* lchown and lutimens change the link, chown and utimens its target */
    CHECK(ermfs_fs_lchown(fs, s, 7, 8) == 0);
    CHECK(ermfs_fs_lstat(fs, s, &st) == 0 && st.st_uid == 7 && st.st_gid == 8);
    CHECK(ermfs_fs_stat(fs, s, &st) == 0 && st.st_uid == getuid());
    struct timespec t[2] = {{11, 12}, {13, 14}};
    CHECK(ermfs_fs_lutimens(fs, s, t) == 0);
    CHECK(ermfs_fs_lstat(fs, s, &st) == 0 && st.st_mtim.tv_sec == 13 && st.st_mtim.tv_nsec == 14);
    CHECK(ermfs_fs_stat(fs, s, &st) == 0 && st.st_mtim.tv_sec != 13);
    CHECK(ermfs_fs_lutimens(fs, dng, NULL) == 0); /* a dangling link itself is fine */
    CHECK_ERR(ermfs_fs_lchown(fs, odd, 0, 0), ENOENT);
    struct timespec bad[2] = {{0, -5}, {0, 0}};
    CHECK_ERR(ermfs_fs_lutimens(fs, s, bad), EINVAL);
    CHECK_ERR(ermfs_fs_lutimens(fs, odd, bad), ENOENT);

    /* readdir names the type */
    ermfs_dir_t *dh = ermfs_fs_opendir(fs, dir);
    CHECK(dh != NULL);
    int seen = 0;
    for (ermfs_dirent_t *e; (e = ermfs_readdir(dh)) != NULL;) {
        if (strcmp(e->d_name, "s") == 0) seen = e->d_type == ERMFS_DT_LNK && ERMFS_DT_LNK == DT_LNK;
    }
    CHECK(seen && ermfs_closedir(dh) == 0);

    const char *all[] = {h, s, s2, l1, l2, dng, lng};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) CHECK(ermfs_fs_unlink(fs, all[i]) == 0);
}

/* Every call and its errors, on `fs`, inside the new directory `dir`. */
static void suite(const ermfs_t *fs, const char *dir) {
    char a[64];
    snprintf(a, sizeof a, "%s/a", dir);
    CHECK(ermfs_fs_mkdir(fs, dir, 0755) == 0);
    int fd = ermfs_fs_open(fs, a, O_CREAT | O_EXCL | O_WRONLY, 0644);
    CHECK(fd >= 0 && ermfs_fs_close(fs, fd) == 0);

    modes_and_owners(fs, a, dir);
    access_checks(fs, a, dir);
    times(fs, a);
    xattrs(fs, a, dir);
    space(fs, a);
    links(fs, dir);

    CHECK(ermfs_fs_unlink(fs, a) == 0 && ermfs_fs_rmdir(fs, dir) == 0);
    ermfs_stats_t stats;
    CHECK(ermfs_fs_stats(fs, &stats) == 0 && stats.open_fds == 0);
}

/* A memory limit shows in statfs and fails a preallocation past it. */
static void limited(bool lockless) {
    ermfs_options_t opts;
    CHECK(ermfs_options_init(&opts) == 0);
    opts.lockless = lockless;
    opts.memory_limit = 1 << 20;
    ermfs_t *fs = ermfs_new(&opts);
    CHECK(fs != NULL);
    struct statvfs v;
    CHECK(ermfs_fs_statfs(fs, &v) == 0);
    CHECK(v.f_blocks == 256 && v.f_bfree == 256 && v.f_bavail == 256);
    uint64_t files_free = v.f_ffree;
    int fd = ermfs_fs_open(fs, "/f", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    CHECK(ermfs_fs_fallocate(fs, fd, 0, 0, 65536) == 0);
    CHECK(ermfs_fs_statfs(fs, &v) == 0);
    CHECK(v.f_bfree <= 256 - 16 && v.f_ffree == files_free - 1);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, 0, 0, 2 << 20), ENOSPC);
    CHECK_ERR(ermfs_fs_fallocate(fs, fd, FALLOC_FL_KEEP_SIZE, 0, 2 << 20), ENOSPC);
    struct stat st;
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && st.st_size == 65536);
    CHECK(ermfs_fs_close(fs, fd) == 0);
    ermfs_free(fs);
}

/* The umask option clears bits of created modes (only; chmod is exact). */
static void umask_option(bool lockless) {
    ermfs_options_t opts;
    CHECK(ermfs_options_init(&opts) == 0 && opts.umask == 0);
    opts.lockless = lockless;
    opts.umask = 0027;
    ermfs_t *fs = ermfs_new(&opts);
    CHECK(fs != NULL);
    int fd = ermfs_fs_open(fs, "/f", O_CREAT | O_RDWR, 0666);
    CHECK(fd >= 0 && ermfs_fs_close(fs, fd) == 0);
    CHECK(ermfs_fs_mkdir(fs, "/d", 0777) == 0);
    struct stat st;
    CHECK(ermfs_fs_stat(fs, "/f", &st) == 0 && (st.st_mode & 07777) == 0640);
    CHECK(ermfs_fs_stat(fs, "/d", &st) == 0 && (st.st_mode & 07777) == 0750);
    CHECK(ermfs_fs_chmod(fs, "/f", 0666) == 0);
    CHECK(ermfs_fs_stat(fs, "/f", &st) == 0 && (st.st_mode & 07777) == 0666);
    ermfs_free(fs);
}

/* Each default-instance one-liner once (they share bodies with ermfs_fs_*). */
static void default_family(void) {
    CHECK(ermfs_mkdir("/meta", 0755) == 0);
    int fd = ermfs_open("/meta/f", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(ermfs_chmod("/meta/f", 0600) == 0 && ermfs_fchmod(fd, 0640) == 0);
    CHECK(ermfs_chown("/meta/f", 10, 20) == 0 && ermfs_fchown(fd, 11, (gid_t)-1) == 0);
    CHECK(ermfs_stat("/meta/f", &st) == 0 && (st.st_mode & 07777) == 0640);
    CHECK(st.st_uid == 11 && st.st_gid == 20);
    CHECK(ermfs_access_as("/meta/f", W_OK, 11, 0, NULL, 0) == 0);
    CHECK(ermfs_access("/meta/f", F_OK) == 0);
    CHECK(ermfs_may_delete_as("/meta/f", 0, 0, NULL, 0) == 0);
    struct timespec t[2] = {{1, 2}, {3, 4}};
    CHECK(ermfs_utimens("/meta/f", t) == 0);
    CHECK(ermfs_stat("/meta/f", &st) == 0 && st.st_mtim.tv_sec == 3 && st.st_mtim.tv_nsec == 4);
    t[1].tv_nsec = 5;
    CHECK(ermfs_futimens(fd, t) == 0);
    CHECK(ermfs_fstat(fd, &st) == 0 && st.st_mtim.tv_nsec == 5);
    char buf[32];
    CHECK(ermfs_setxattr("/meta/f", "user.a", "1", 1, 0) == 0);
    CHECK(ermfs_fsetxattr(fd, "user.b", "22", 2, 0) == 0);
    CHECK(ermfs_getxattr("/meta/f", "user.b", buf, sizeof buf) == 2);
    CHECK(ermfs_fgetxattr(fd, "user.a", buf, sizeof buf) == 1 && buf[0] == '1');
    CHECK(ermfs_listxattr("/meta/f", buf, sizeof buf) == 14);
    CHECK(ermfs_flistxattr(fd, NULL, 0) == 14);
    CHECK(ermfs_removexattr("/meta/f", "user.a") == 0 && ermfs_fremovexattr(fd, "user.b") == 0);
    CHECK(ermfs_flistxattr(fd, buf, sizeof buf) == 0);
    struct statvfs v;
    CHECK(ermfs_statfs(&v) == 0 && v.f_namemax == 255 && v.f_blocks > 0);
    CHECK(ermfs_fallocate(fd, 0, 0, 4096) == 0);
    CHECK(ermfs_fstat(fd, &st) == 0 && st.st_size == 4096);
    CHECK(ermfs_close(fd) == 0);
    CHECK(ermfs_link("/meta/f", "/meta/h") == 0 && ermfs_symlink("h", "/meta/s") == 0);
    CHECK(ermfs_lstat("/meta/s", &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(ermfs_readlink("/meta/s", buf, sizeof buf) == 1 && buf[0] == 'h');
    CHECK(ermfs_lchown("/meta/s", 1, 1) == 0 && ermfs_lutimens("/meta/s", NULL) == 0);
    CHECK(ermfs_unlink("/meta/s") == 0 && ermfs_unlink("/meta/h") == 0);
    fd = ermfs_open("/meta/g", O_CREAT | O_RDWR, 0666); /* ERMFS_UMASK=002 */
    CHECK(fd >= 0 && ermfs_close(fd) == 0);
    CHECK(ermfs_stat("/meta/g", &st) == 0 && (st.st_mode & 07777) == 0664);
    CHECK(ermfs_unlink("/meta/g") == 0);
    CHECK(ermfs_unlink("/meta/f") == 0 && ermfs_rmdir("/meta") == 0);
}

int main(void) {
    /* Read once, when the default instance is first used; 002 changes no
     * mode the suite creates (0644, 0755, 0700) but shows in default_family. */
    setenv("ERMFS_UMASK", "002", 1);
    for (int lockless = 0; lockless <= 1; lockless++) {
        CHECK(ermfs_set_lockless_mode(lockless) == 0);
        CHECK(ermfs_is_lockless() == lockless);
        suite(ermfs_default(), lockless ? "/meta-lockless" : "/meta-locked");
        default_family();

        ermfs_options_t opts;
        CHECK(ermfs_options_init(&opts) == 0);
        opts.lockless = lockless;
        ermfs_t *fs = ermfs_new(&opts);
        CHECK(fs != NULL && ermfs_fs_is_lockless(fs) == lockless);
        suite(fs, "/explicit");
        ermfs_free(fs);
        limited(lockless);
        umask_option(lockless);
    }
    /* Back to locked: valgrind cannot follow the lockless registry's tagged
     * pointers of a live instance (see test_lockless_correctness.c). */
    CHECK(ermfs_set_lockless_mode(false) == 0);
    printf("test_metadata: ok (locked and lockless)\n");
    return 0;
}
