/*
 * test_lockless_correctness.c: the C-level behaviour tests, run with the same
 * expectations in locked and lockless mode, on the default instance (switched
 * with ermfs_set_lockless_mode) and on explicit instances (ermfs_new).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ermfs.h"

/* Every fd-style call and its errors, on `fs`, inside directory `dir`. */
static void suite(const ermfs_t *fs, const char *dir) {
    char a[64], b[64], sub[64], deep[96];
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(deep, sizeof deep, "%s/sub/x", dir);

    CHECK(ermfs_fs_mkdir(fs, dir, 0755) == 0);
    CHECK_ERR(ermfs_fs_mkdir(fs, dir, 0755), EEXIST);

    /* open / write / read / lseek */
    int fd = ermfs_fs_open(fs, a, O_CREAT | O_RDWR | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK_ERR(ermfs_fs_open(fs, a, O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
    CHECK(ermfs_fs_write(fs, fd, "hello world", 11) == 11);
    CHECK(ermfs_fs_lseek(fs, fd, 0, SEEK_CUR) == 11);
    CHECK(ermfs_fs_lseek(fs, fd, 0, SEEK_SET) == 0);
    char buf[64] = {0};
    CHECK(ermfs_fs_read(fs, fd, buf, sizeof buf) == 11);
    CHECK(memcmp(buf, "hello world", 11) == 0);
    CHECK(ermfs_fs_read(fs, fd, buf, sizeof buf) == 0);
    CHECK(ermfs_fs_lseek(fs, fd, -5, SEEK_END) == 6);
    CHECK_ERR(ermfs_fs_lseek(fs, fd, -100, SEEK_CUR), EINVAL);
    CHECK_ERR(ermfs_fs_lseek(fs, fd, 0, 12345), EINVAL);

    /* pread / pwrite leave the offset alone; a gap reads as zeros */
    CHECK(ermfs_fs_pwrite(fs, fd, "XY", 2, 20) == 2);
    CHECK(ermfs_fs_lseek(fs, fd, 0, SEEK_CUR) == 6);
    memset(buf, 0x55, sizeof buf);
    CHECK(ermfs_fs_pread(fs, fd, buf, sizeof buf, 0) == 22);
    CHECK(buf[11] == 0 && buf[19] == 0 && buf[20] == 'X' && buf[21] == 'Y');
    CHECK_ERR(ermfs_fs_pread(fs, fd, buf, 1, -1), EINVAL);
    CHECK_ERR(ermfs_fs_pwrite(fs, fd, buf, 1, -1), EINVAL);

    /* fstat / stat fill a real struct stat */
    struct stat st;
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0);
    CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644);
    CHECK(st.st_size == 22 && st.st_nlink == 1 && st.st_ino > 1);
    CHECK(st.st_uid == getuid() && st.st_mtime > 0);
    struct stat st2;
    CHECK(ermfs_fs_stat(fs, a, &st2) == 0);
    CHECK(st2.st_ino == st.st_ino && st2.st_size == 22);
    CHECK(ermfs_fs_stat(fs, dir, &st2) == 0 && S_ISDIR(st2.st_mode));

    /* ftruncate / truncate */
    CHECK(ermfs_fs_ftruncate(fs, fd, 5) == 0);
    CHECK(ermfs_fs_fstat(fs, fd, &st) == 0 && st.st_size == 5);
    CHECK_ERR(ermfs_fs_ftruncate(fs, fd, -1), EINVAL);

    /* dup / dup2 share the offset; fsync checks the fd */
    int d = ermfs_fs_dup(fs, fd);
    CHECK(d >= 0 && d != fd);
    CHECK(ermfs_fs_lseek(fs, fd, 2, SEEK_SET) == 2);
    CHECK(ermfs_fs_lseek(fs, d, 0, SEEK_CUR) == 2);
    CHECK(ermfs_fs_dup2(fs, fd, 1000) == 1000);
    CHECK(ermfs_fs_lseek(fs, 1000, 0, SEEK_CUR) == 2);
    CHECK(ermfs_fs_fsync(fs, d) == 0);
    CHECK(ermfs_fs_close(fs, 1000) == 0);
    CHECK(ermfs_fs_close(fs, d) == 0);
    CHECK_ERR(ermfs_fs_close(fs, d), EBADF);
    CHECK_ERR(ermfs_fs_fsync(fs, d), EBADF);
    CHECK(ermfs_fs_close(fs, fd) == 0);

    /* last close compressed the file; a reopen reads it back */
    CHECK(ermfs_fs_truncate(fs, a, 0) == 0);
    fd = ermfs_fs_open(fs, a, O_WRONLY | O_APPEND, 0);
    CHECK(fd >= 0);
    for (int i = 0; i < 1000; i++) CHECK(ermfs_fs_write(fs, fd, "compress me ", 12) == 12);
    CHECK(ermfs_fs_close(fs, fd) == 0);
    ermfs_stats_t stats;
    CHECK(ermfs_fs_stats(fs, &stats) == 0);
    CHECK(stats.compressions >= 1 && stats.open_fds == 0);
    CHECK(ermfs_fs_stat(fs, a, &st) == 0 && st.st_size == 12000);
    CHECK(st.st_blocks * 512 < 12000); /* held compressed */
    fd = ermfs_fs_open(fs, a, O_RDONLY, 0);
    CHECK(fd >= 0);
    CHECK(ermfs_fs_pread(fs, fd, buf, 12, 11988) == 12 && memcmp(buf, "compress me ", 12) == 0);
    CHECK_ERR(ermfs_fs_write(fs, fd, "x", 1), EBADF);
    CHECK_ERR(ermfs_fs_ftruncate(fs, fd, 0), EINVAL);

    /* unlink while open: the data stays until the last close */
    CHECK(ermfs_fs_unlink(fs, a) == 0);
    CHECK_ERR(ermfs_fs_stat(fs, a, &st), ENOENT);
    CHECK(ermfs_fs_pread(fs, fd, buf, 7, 0) == 7 && memcmp(buf, "compres", 7) == 0);
    CHECK(ermfs_fs_close(fs, fd) == 0);
    CHECK_ERR(ermfs_fs_unlink(fs, a), ENOENT);

    /* rename, directories, readdir */
    fd = ermfs_fs_open(fs, b, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0 && ermfs_fs_close(fs, fd) == 0);
    CHECK(ermfs_fs_mkdir(fs, sub, 0700) == 0);
    CHECK(ermfs_fs_rename(fs, b, deep) == 0);
    CHECK_ERR(ermfs_fs_stat(fs, b, &st), ENOENT);
    CHECK(ermfs_fs_stat(fs, deep, &st) == 0 && S_ISREG(st.st_mode));
    CHECK_ERR(ermfs_fs_rmdir(fs, sub), ENOTEMPTY);
    CHECK_ERR(ermfs_fs_unlink(fs, sub), EISDIR);
    CHECK_ERR(ermfs_fs_rmdir(fs, deep), ENOTDIR);
    CHECK_ERR(ermfs_fs_open(fs, sub, O_WRONLY, 0), EISDIR);
    CHECK_ERR(ermfs_fs_open(fs, deep, O_RDONLY | O_DIRECTORY, 0), ENOTDIR);
    CHECK_ERR(ermfs_fs_open(fs, "/no/such/file", O_RDONLY, 0), ENOENT);

    ermfs_dir_t *dh = ermfs_fs_opendir(fs, sub);
    CHECK(dh != NULL);
    const char *want[] = {".", "..", "x"};
    int n = 0;
    ermfs_dirent_t *e;
    errno = 0;
    while ((e = ermfs_readdir(dh)) != NULL) {
        CHECK(n < 3 && strcmp(e->d_name, want[n]) == 0);
        CHECK(e->d_type == (n < 2 ? ERMFS_DT_DIR : ERMFS_DT_REG));
        CHECK(n != 2 || e->d_ino == (uint64_t)st.st_ino);
        n++;
    }
    CHECK(n == 3 && errno == 0);
    CHECK(ermfs_closedir(dh) == 0);
    CHECK_NULL_ERR(ermfs_fs_opendir(fs, deep), ENOTDIR);
    CHECK_NULL_ERR(ermfs_fs_opendir(fs, "/missing"), ENOENT);

    /* paths are bytes: a non-UTF-8 name works */
    char odd[64];
    snprintf(odd, sizeof odd, "%s/\xff\xfe-latin1-\xe9", dir);
    fd = ermfs_fs_open(fs, odd, O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0 && ermfs_fs_close(fs, fd) == 0);
    CHECK(ermfs_fs_unlink(fs, odd) == 0);

    /* bad input: NULL, bad descriptors, huge lengths */
    CHECK_ERR(ermfs_fs_open(fs, NULL, O_RDONLY, 0), EFAULT);
    CHECK_ERR(ermfs_fs_read(fs, 12345, buf, 1), EBADF);
    CHECK_ERR(ermfs_fs_close(fs, -1), EBADF);
    CHECK_ERR(ermfs_fs_stat(fs, dir, NULL), EFAULT);
    CHECK_ERR(ermfs_fs_rename(fs, NULL, b), EFAULT);
    fd = ermfs_fs_open(fs, b, O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    CHECK_ERR(ermfs_fs_read(fs, fd, NULL, 10), EFAULT);
    CHECK_ERR(ermfs_fs_write(fs, fd, buf, (size_t)-1), EFAULT);
    CHECK(ermfs_fs_write(fs, fd, NULL, 0) == 0);
    CHECK_ERR(ermfs_fs_fstat(fs, fd, NULL), EFAULT);
    CHECK_ERR(ermfs_fs_stats(fs, NULL), EFAULT);
    CHECK_ERR(ermfs_fs_open(fs, b, O_RDWR | O_WRONLY | O_RDONLY | 3, 0), EINVAL);

    /* switching modes is refused while a descriptor is open */
    CHECK_ERR(ermfs_fs_set_lockless_mode(fs, ermfs_fs_is_lockless(fs) ? false : true), EBUSY);
    CHECK(ermfs_fs_close(fs, fd) == 0);

    /* clean up: the directory empties and goes */
    CHECK(ermfs_fs_unlink(fs, b) == 0);
    CHECK(ermfs_fs_unlink(fs, deep) == 0);
    CHECK(ermfs_fs_rmdir(fs, sub) == 0);
    CHECK(ermfs_fs_rmdir(fs, dir) == 0);
    CHECK(ermfs_fs_stats(fs, &stats) == 0 && stats.open_fds == 0);
}

/* -1 with errno `code`, or the value: one call's answer, to compare. */
static long long answer(long long rc) { return rc < 0 ? -(long long)errno - 1000 : rc; }

/* Bad input answered as the kernel answers it (tmpfs: a memfd, and flag
 * checks the kernel makes before it looks at the path, so nothing is created
 * there). Under valgrind (quick mode) the kernel side is skipped: valgrind
 * reports the kernel's calls with bad buffers as errors; the ERMFS side is
 * held to the answers measured on tmpfs. */
static void kernel_parity(const ermfs_t *fs) {
    char storage[16];
    /* Through a volatile pointer, so the compiler does not refuse the
     * deliberately huge counts for a 16-byte buffer. */
    char *volatile hidden = storage;
    char *buf = hidden;
    char *volatile hidden_null = NULL;
    char *null = hidden_null;
    CHECK(ermfs_fs_mkdir(fs, "/kp", 0755) == 0);
    int fd = ermfs_fs_open(fs, "/kp/f", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0 && ermfs_fs_write(fs, fd, "hello", 5) == 5);
    int k = quick() ? -1 : memfd_create("kernel-parity", MFD_CLOEXEC);
    CHECK(quick() || (k >= 0 && write(k, "hello", 5) == 5));
    char long_path[300] = "/kp/missing/";
    memset(long_path + strlen(long_path), 'n', 256);
    struct stat st;
    /* { ERMFS call, kernel call, the kernel's answer measured on tmpfs } */
#define SAME(ours, kernel, measured)                                            \
    do {                                                                        \
        errno = 0;                                                              \
        long long o_ = answer((long long)(ours));                               \
        CHECK(o_ == (measured));                                                \
        if (!quick()) {                                                         \
            errno = 0;                                                          \
            CHECK(answer((long long)(kernel)) == o_);                           \
        }                                                                       \
    } while (0)
    SAME(ermfs_fs_write(fs, fd, buf, SSIZE_MAX), write(k, buf, SSIZE_MAX), -EFAULT - 1000);
    SAME(ermfs_fs_pread(fs, fd, buf, SSIZE_MAX, 0), pread(k, buf, SSIZE_MAX, 0), -EFAULT - 1000);
    SAME(ermfs_fs_pread(fs, fd, buf, SSIZE_MAX, 5), pread(k, buf, SSIZE_MAX, 5), -EFAULT - 1000);
    SAME(ermfs_fs_pread(fs, fd, buf, SSIZE_MAX, -1), pread(k, buf, SSIZE_MAX, -1), -EINVAL - 1000);
    SAME(ermfs_fs_open(fs, "/kp", O_TMPFILE | O_RDONLY, 0600), open("/", O_TMPFILE | O_RDONLY, 0600),
         -EINVAL - 1000);
    SAME(ermfs_fs_open(fs, "/kp/f", -1, 0), open("/proc/self/stat", -1), -ENOTDIR - 1000);
    SAME(ermfs_fs_stat(fs, long_path, &st), stat(long_path, &st), -ENOENT - 1000);
#undef SAME
    /* `open(dir, -1)`: O_PATH wins; the kernel's O_PATH fd, a read-only one here. */
    int d = ermfs_fs_open(fs, "/kp", -1, 0);
    CHECK(d >= 0 && ermfs_fs_close(fs, d) == 0);
    /* The deliberate difference: a NULL buffer is EFAULT at the end of the
     * file too, where the kernel copies nothing and returns 0. */
    CHECK_ERR(ermfs_fs_pread(fs, fd, null, 8, 5), EFAULT);
    CHECK(quick() || pread(k, null, 8, 5) == 0);
    if (k >= 0) close(k);
    CHECK(ermfs_fs_close(fs, fd) == 0 && ermfs_fs_unlink(fs, "/kp/f") == 0);
    CHECK(ermfs_fs_rmdir(fs, "/kp") == 0);
}

/* Each default-instance one-liner once (they share bodies with ermfs_fs_*). */
static void default_family(void) {
    CHECK(ermfs_mkdir("/plain", 0755) == 0);
    int fd = ermfs_open("/plain/f", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    CHECK(ermfs_write(fd, "abcdef", 6) == 6);
    CHECK(ermfs_pwrite(fd, "Z", 1, 0) == 1);
    CHECK(ermfs_lseek(fd, 0, SEEK_SET) == 0);
    char buf[8] = {0};
    CHECK(ermfs_read(fd, buf, 6) == 6 && memcmp(buf, "Zbcdef", 6) == 0);
    CHECK(ermfs_pread(fd, buf, 2, 4) == 2 && memcmp(buf, "ef", 2) == 0);
    CHECK(ermfs_ftruncate(fd, 3) == 0);
    struct stat st;
    CHECK(ermfs_fstat(fd, &st) == 0 && st.st_size == 3);
    int d = ermfs_dup(fd);
    CHECK(d >= 0 && ermfs_dup2(d, 77) == 77 && ermfs_fsync(77) == 0);
    CHECK(ermfs_close(77) == 0 && ermfs_close(d) == 0 && ermfs_close(fd) == 0);
    CHECK(ermfs_truncate("/plain/f", 1) == 0);
    CHECK(ermfs_stat("/plain/f", &st) == 0 && st.st_size == 1);
    CHECK(ermfs_rename("/plain/f", "/plain/g") == 0);
    ermfs_dir_t *dh = ermfs_opendir("/plain");
    CHECK(dh != NULL);
    int n = 0;
    for (ermfs_dirent_t *e; (e = ermfs_readdir(dh)) != NULL; n++) {
        CHECK(n != 2 || strcmp(e->d_name, "g") == 0);
    }
    CHECK(n == 3 && ermfs_closedir(dh) == 0);
    CHECK(ermfs_unlink("/plain/g") == 0 && ermfs_rmdir("/plain") == 0);
    CHECK(ermfs_settle() == 0);
    ermfs_stats_t stats;
    CHECK(ermfs_stats(&stats) == 0 && stats.open_fds == 0);
}

/* The memory limit from the environment turns a big write into ENOSPC. */
static void memory_limit(void) {
    int fd = ermfs_open("/big", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    static char chunk[1 << 20];
    CHECK(ermfs_write(fd, chunk, sizeof chunk / 4) == (ssize_t)(sizeof chunk / 4));
    CHECK_ERR(ermfs_write(fd, chunk, sizeof chunk), ENOSPC);
    struct stat st;
    CHECK(ermfs_fstat(fd, &st) == 0 && st.st_size == (off_t)(sizeof chunk / 4));
    CHECK(ermfs_close(fd) == 0 && ermfs_unlink("/big") == 0);
}

/* Explicit instances: options, bad options, the default instance's pointer. */
static void instances(void) {
    ermfs_options_t opts;
    CHECK(ermfs_options_init(&opts) == 0);
    CHECK(opts.compression_level == 6 && opts.fd_capacity == 65536 && opts.memory_limit == 0);
    CHECK_ERR(ermfs_options_init(NULL), EFAULT);
    opts.policy = 42;
    CHECK_NULL_ERR(ermfs_new(&opts), EINVAL);
    CHECK(ermfs_options_init(&opts) == 0);
    opts.compression_level = 99;
    CHECK_NULL_ERR(ermfs_new(&opts), EINVAL);
    CHECK(ermfs_options_init(&opts) == 0);
    opts.fd_capacity = 4;
    ermfs_t *small = ermfs_new(&opts);
    CHECK(small != NULL);
    for (int i = 0; i < 4; i++) CHECK(ermfs_fs_open(small, "/", O_RDONLY, 0) == i);
    CHECK_ERR(ermfs_fs_open(small, "/", O_RDONLY, 0), EMFILE);
    ermfs_free(small); /* frees its open descriptors too */
    ermfs_t *plain = ermfs_new(NULL);
    CHECK(plain != NULL);
    ermfs_free(plain);
    ermfs_free(NULL);
    ermfs_free(ermfs_default()); /* ignored */
    CHECK_ERR(ermfs_fs_close(NULL, 0), EFAULT);
    CHECK(ermfs_fs_mkdir(ermfs_default(), "/via-pointer", 0755) == 0);
    CHECK(ermfs_rmdir("/via-pointer") == 0);
}

int main(void) {
    /* Read once, when the default instance is first used. */
    setenv("ERMFS_MEMORY_LIMIT", "1M", 1);
    setenv("ERMFS_LOCKLESS", "1", 1);
    CHECK(ermfs_is_lockless() == 1);
    memory_limit();
    instances();

    for (int lockless = 0; lockless <= 1; lockless++) {
        CHECK(ermfs_set_lockless_mode(lockless) == 0);
        CHECK(ermfs_is_lockless() == lockless);
        suite(ermfs_default(), lockless ? "/default-lockless" : "/default-locked");
        default_family();

        ermfs_options_t opts;
        CHECK(ermfs_options_init(&opts) == 0);
        opts.lockless = lockless;
        ermfs_t *fs = ermfs_new(&opts);
        CHECK(fs != NULL && ermfs_fs_is_lockless(fs) == lockless);
        suite(fs, "/explicit");
        kernel_parity(fs);
        ermfs_free(fs);
    }
    /* Back to locked: the lockless registry tags its key pointers in the high
     * bits, which valgrind's leak checker cannot follow, so a live lockless
     * instance at exit would look like a definite leak (freed ones are clean). */
    CHECK(ermfs_set_lockless_mode(false) == 0);
    printf("test_lockless_correctness: ok (locked and lockless)\n");
    return 0;
}
