/*
 * test_nodes.c: special files and rename flags through the C ABI
 * (ermfs_mknod, ermfs_mkfifo, ermfs_rename2, st_rdev), in locked and
 * lockless mode, on the default instance and on explicit instances.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "ermfs.h"

static void nodes(const ermfs_t *fs, const char *dir) {
    char fifo[64], sock[64], reg[64], dev[64], odd[64];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(sock, sizeof sock, "%s/sock", dir);
    snprintf(reg, sizeof reg, "%s/reg", dir);
    snprintf(dev, sizeof dev, "%s/null", dir);
    snprintf(odd, sizeof odd, "%s/none/x", dir);
    struct stat st;

    CHECK(ermfs_fs_mkfifo(fs, fifo, 0640) == 0);
    CHECK(ermfs_fs_stat(fs, fifo, &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK((st.st_mode & 07777) == 0640 && st.st_rdev == 0 && st.st_size == 0);
    CHECK(st.st_uid == getuid() && st.st_gid == getgid());
    CHECK_ERR(ermfs_fs_mkfifo(fs, fifo, 0640), EEXIST);
    CHECK_ERR(ermfs_fs_mkfifo(fs, NULL, 0640), EFAULT);
    CHECK_ERR(ermfs_fs_mkfifo(fs, odd, 0640), ENOENT);
    /* nothing serves a FIFO or a socket in the process */
    CHECK_ERR(ermfs_fs_open(fs, fifo, O_RDONLY | O_NONBLOCK, 0), ENXIO);
    CHECK_ERR(ermfs_fs_open(fs, fifo, O_WRONLY, 0), ENXIO);
    CHECK(ermfs_fs_mknod(fs, sock, S_IFSOCK | 0600, 0) == 0);
    CHECK(ermfs_fs_lstat(fs, sock, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK_ERR(ermfs_fs_open(fs, sock, O_RDWR, 0), ENXIO);
    /* type 0 is a regular file */
    CHECK(ermfs_fs_mknod(fs, reg, 0644, 0) == 0);
    CHECK(ermfs_fs_stat(fs, reg, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644);
    int fd = ermfs_fs_open(fs, reg, O_RDWR, 0);
    CHECK(fd >= 0 && ermfs_fs_write(fs, fd, "x", 1) == 1 && ermfs_fs_close(fs, fd) == 0);
    /* errors: the type first (before a NULL path), then the name */
    CHECK_ERR(ermfs_fs_mknod(fs, odd, S_IFDIR | 0755, 0), EPERM);
    CHECK_ERR(ermfs_fs_mknod(fs, NULL, S_IFDIR | 0755, 0), EPERM);
    CHECK_ERR(ermfs_fs_mknod(fs, odd, S_IFLNK | 0777, 0), EINVAL);
    CHECK_ERR(ermfs_fs_mknod(fs, odd, 0170000, 0), EINVAL);
    CHECK_ERR(ermfs_fs_mknod(fs, NULL, S_IFIFO | 0600, 0), EFAULT);
    CHECK_ERR(ermfs_fs_mknod(fs, fifo, S_IFSOCK | 0600, 0), EEXIST);
    CHECK_ERR(ermfs_fs_mknod(fs, dir, S_IFIFO | 0600, 0), EEXIST);
    CHECK_ERR(ermfs_fs_mknod(fs, odd, S_IFIFO | 0600, 0), ENOENT);
    /* devices: only an instance owned by root makes them */
    if (getuid() == 0) {
        CHECK(ermfs_fs_mknod(fs, dev, S_IFCHR | 0666, makedev(1, 3)) == 0);
        CHECK(ermfs_fs_stat(fs, dev, &st) == 0 && S_ISCHR(st.st_mode));
        CHECK(st.st_rdev == makedev(1, 3) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3);
        CHECK_ERR(ermfs_fs_open(fs, dev, O_RDWR, 0), ENXIO);
        CHECK(ermfs_fs_unlink(fs, dev) == 0);
        CHECK(ermfs_fs_mknod(fs, dev, S_IFBLK | 0660, makedev(8, 1)) == 0);
        CHECK(ermfs_fs_stat(fs, dev, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == makedev(8, 1));
        CHECK(ermfs_fs_unlink(fs, dev) == 0);
    } else {
        CHECK_ERR(ermfs_fs_mknod(fs, dev, S_IFCHR | 0666, makedev(1, 3)), EPERM);
    }

    /* readdir names each type */
    ermfs_dir_t *dh = ermfs_fs_opendir(fs, dir);
    CHECK(dh != NULL);
    int seen = 0;
    for (ermfs_dirent_t *e; (e = ermfs_readdir(dh)) != NULL;) {
        if (strcmp(e->d_name, "fifo") == 0) seen += e->d_type == ERMFS_DT_FIFO;
        if (strcmp(e->d_name, "sock") == 0) seen += e->d_type == ERMFS_DT_SOCK;
    }
    CHECK(seen == 2 && ermfs_closedir(dh) == 0);
    CHECK(ermfs_fs_unlink(fs, fifo) == 0 && ermfs_fs_unlink(fs, sock) == 0);
    CHECK(ermfs_fs_unlink(fs, reg) == 0);
}

static void renames(const ermfs_t *fs, const char *dir) {
    char a[64], b[64], c[64], sub[64], odd[64];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(odd, sizeof odd, "%s/missing", dir);
    int fd = ermfs_fs_open(fs, a, O_CREAT | O_EXCL | O_WRONLY, 0644);
    CHECK(fd >= 0 && ermfs_fs_write(fs, fd, "A", 1) == 1 && ermfs_fs_close(fs, fd) == 0);
    CHECK(ermfs_fs_mkdir(fs, sub, 0755) == 0);
    struct stat sa, ss, st;
    CHECK(ermfs_fs_stat(fs, a, &sa) == 0 && ermfs_fs_stat(fs, sub, &ss) == 0);

    /* the header's values are the platform's */
    CHECK(ERMFS_RENAME_NOREPLACE == RENAME_NOREPLACE && ERMFS_RENAME_EXCHANGE == RENAME_EXCHANGE);
    CHECK(ERMFS_RENAME_WHITEOUT == RENAME_WHITEOUT);
    /* flags are checked first */
    CHECK_ERR(ermfs_fs_rename2(fs, a, b, 8), EINVAL);
    CHECK_ERR(ermfs_fs_rename2(fs, NULL, NULL, 0x80000000u), EINVAL);
    CHECK_ERR(ermfs_fs_rename2(fs, NULL, b, RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
    CHECK_ERR(ermfs_fs_rename2(fs, a, b, RENAME_EXCHANGE | RENAME_WHITEOUT), EINVAL);
    CHECK_ERR(ermfs_fs_rename2(fs, NULL, b, 0), EFAULT);
    CHECK_ERR(ermfs_fs_rename2(fs, a, NULL, RENAME_NOREPLACE), EFAULT);
    /* 0 is rename; NOREPLACE refuses an existing target */
    CHECK(ermfs_fs_rename2(fs, a, b, 0) == 0);
    CHECK(ermfs_fs_stat(fs, b, &st) == 0 && st.st_ino == sa.st_ino);
    CHECK_ERR(ermfs_fs_stat(fs, a, &st), ENOENT);
    fd = ermfs_fs_open(fs, c, O_CREAT | O_EXCL | O_WRONLY, 0600);
    CHECK(fd >= 0 && ermfs_fs_close(fs, fd) == 0);
    CHECK_ERR(ermfs_fs_rename2(fs, b, c, RENAME_NOREPLACE), EEXIST);
    CHECK_ERR(ermfs_fs_rename2(fs, b, sub, RENAME_NOREPLACE), EEXIST);
    CHECK_ERR(ermfs_fs_rename2(fs, odd, a, RENAME_NOREPLACE), ENOENT);
    CHECK(ermfs_fs_rename2(fs, b, a, RENAME_NOREPLACE) == 0);
    /* EXCHANGE swaps a file and a directory; both must exist */
    CHECK_ERR(ermfs_fs_rename2(fs, a, odd, RENAME_EXCHANGE), ENOENT);
    CHECK(ermfs_fs_rename2(fs, a, sub, RENAME_EXCHANGE) == 0);
    CHECK(ermfs_fs_stat(fs, sub, &st) == 0 && st.st_ino == sa.st_ino && S_ISREG(st.st_mode));
    CHECK(ermfs_fs_stat(fs, a, &st) == 0 && st.st_ino == ss.st_ino && S_ISDIR(st.st_mode));
    CHECK(ermfs_fs_rename2(fs, a, sub, RENAME_EXCHANGE) == 0);
    /* WHITEOUT leaves a character device 0:0, whoever asks */
    CHECK(ermfs_fs_rename2(fs, c, b, RENAME_WHITEOUT) == 0);
    CHECK(ermfs_fs_lstat(fs, c, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == 0);
    CHECK(ermfs_fs_stat(fs, b, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(ermfs_fs_unlink(fs, b) == 0);
    CHECK(ermfs_fs_unlink(fs, a) == 0 && ermfs_fs_unlink(fs, c) == 0);
    CHECK(ermfs_fs_rmdir(fs, sub) == 0);
}

static void suite(const ermfs_t *fs, const char *dir) {
    CHECK(ermfs_fs_mkdir(fs, dir, 0755) == 0);
    nodes(fs, dir);
    renames(fs, dir);
    CHECK(ermfs_fs_rmdir(fs, dir) == 0);
}

/* Each default-instance one-liner once (they share bodies with ermfs_fs_*). */
static void default_family(void) {
    struct stat st;
    CHECK(ermfs_mkfifo("/nodes-fifo", 0600) == 0);
    CHECK(ermfs_mknod("/nodes-sock", S_IFSOCK | 0600, 0) == 0);
    CHECK(ermfs_stat("/nodes-fifo", &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK_ERR(ermfs_open("/nodes-fifo", O_RDONLY, 0), ENXIO);
    CHECK_ERR(ermfs_rename2("/nodes-fifo", "/nodes-sock", RENAME_NOREPLACE), EEXIST);
    CHECK(ermfs_rename2("/nodes-fifo", "/nodes-sock", RENAME_EXCHANGE) == 0);
    CHECK(ermfs_stat("/nodes-fifo", &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK(ermfs_unlink("/nodes-fifo") == 0 && ermfs_unlink("/nodes-sock") == 0);
}

int main(void) {
    for (int lockless = 0; lockless <= 1; lockless++) {
        CHECK(ermfs_set_lockless_mode(lockless) == 0);
        suite(ermfs_default(), lockless ? "/nodes-lockless" : "/nodes-locked");
        default_family();

        ermfs_options_t opts;
        CHECK(ermfs_options_init(&opts) == 0);
        opts.lockless = lockless;
        ermfs_t *fs = ermfs_new(&opts);
        CHECK(fs != NULL);
        suite(fs, "/explicit");
        ermfs_free(fs);
    }
    /* Back to locked: valgrind cannot follow the lockless registry's tagged
     * pointers of a live instance (see test_lockless_correctness.c). */
    CHECK(ermfs_set_lockless_mode(false) == 0);
    printf("test_nodes: ok (locked and lockless)\n");
    return 0;
}
