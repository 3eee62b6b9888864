/*
 * test_ermfd.c: ermfs_export_memfd gives a real kernel fd (read, mmap, lseek,
 * fstat, seals) and fails cleanly on bad input; ermfs_import_fd takes a
 * kernel fd's bytes in. Scratch data lives in memfds, never in files.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ermfs.h"

enum { SIZE = 300 * 1000 };

static unsigned char data[SIZE];

/* Creates `path` holding data[0..len) on the default instance. */
static void put(const char *path, size_t len) {
    int fd = ermfs_open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(ermfs_write(fd, data, len) == (ssize_t)len);
    CHECK(ermfs_close(fd) == 0);
}

static void export_read(void) {
    int efd = ermfs_export_memfd("/data.bin", 0);
    CHECK(efd >= 0);
    static unsigned char back[SIZE];
    size_t got = 0;
    for (ssize_t n; (n = read(efd, back + got, SIZE - got)) > 0;) got += (size_t)n;
    CHECK(got == SIZE && memcmp(back, data, SIZE) == 0);
    char extra;
    CHECK(read(efd, &extra, 1) == 0);
    CHECK(close(efd) == 0);
}

static void export_mmap(void) {
    int efd = ermfs_export_memfd("/data.bin", 0);
    CHECK(efd >= 0);
    unsigned char *map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, efd, 0);
    CHECK(map != MAP_FAILED);
    CHECK(memcmp(map, data, SIZE) == 0);
    CHECK(munmap(map, SIZE) == 0);
    CHECK(close(efd) == 0);
}

static void export_seek(void) {
    int efd = ermfs_export_memfd("/data.bin", 0);
    CHECK(efd >= 0);
    unsigned char buf[100];
    CHECK(lseek(efd, 123456, SEEK_SET) == 123456);
    CHECK(read(efd, buf, sizeof buf) == (ssize_t)sizeof buf);
    CHECK(memcmp(buf, data + 123456, sizeof buf) == 0);
    CHECK(lseek(efd, -10, SEEK_END) == SIZE - 10);
    CHECK(read(efd, buf, sizeof buf) == 10 && memcmp(buf, data + SIZE - 10, 10) == 0);
    CHECK(lseek(efd, 0, SEEK_CUR) == SIZE);
    CHECK(close(efd) == 0);
}

static void export_fstat(void) {
    int efd = ermfs_export_memfd("/data.bin", 0);
    CHECK(efd >= 0);
    struct stat st;
    CHECK(fstat(efd, &st) == 0);
    CHECK(S_ISREG(st.st_mode) && st.st_size == SIZE);
    CHECK(close(efd) == 0);

    /* an open file with fresh writes exports what it holds now */
    int fd = ermfs_open("/data.bin", O_WRONLY | O_APPEND, 0);
    CHECK(fd >= 0 && ermfs_write(fd, "tail", 4) == 4);
    efd = ermfs_export_memfd("/data.bin", 0);
    CHECK(efd >= 0 && fstat(efd, &st) == 0 && st.st_size == SIZE + 4);
    char tail[4];
    CHECK(pread(efd, tail, 4, SIZE) == 4 && memcmp(tail, "tail", 4) == 0);
    CHECK(close(efd) == 0);
    CHECK(ermfs_ftruncate(fd, SIZE) == 0 && ermfs_close(fd) == 0);
}

static void export_sealed(void) {
    int efd = ermfs_export_memfd("/data.bin", ERMFS_EXPORT_SEALED);
    CHECK(efd >= 0);
    int seals = fcntl(efd, F_GET_SEALS);
    CHECK(seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SHRINK) && (seals & F_SEAL_GROW));
    CHECK_ERR(write(efd, "x", 1), EPERM);
    CHECK_ERR(ftruncate(efd, 1), EPERM);
    CHECK(mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, efd, 0) == MAP_FAILED);
    unsigned char *map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, efd, 0);
    CHECK(map != MAP_FAILED && memcmp(map, data, SIZE) == 0);
    CHECK(munmap(map, SIZE) == 0);
    CHECK(close(efd) == 0);

    /* unsealed exports are independent copies: writing one leaves ERMFS alone */
    efd = ermfs_export_memfd("/data.bin", ERMFS_EXPORT_EXECUTABLE);
    CHECK(efd >= 0 && pwrite(efd, "XXXX", 4, 0) == 4);
    CHECK(close(efd) == 0);
    unsigned char head[4];
    int fd = ermfs_open("/data.bin", O_RDONLY, 0);
    CHECK(fd >= 0 && ermfs_read(fd, head, 4) == 4 && memcmp(head, data, 4) == 0);
    CHECK(ermfs_close(fd) == 0);
}

static void export_errors(void) {
    CHECK_ERR(ermfs_export_memfd("/missing", 0), ENOENT);
    CHECK_ERR(ermfs_export_memfd("/dir", 0), EISDIR);
    CHECK_ERR(ermfs_export_memfd("/data.bin/x", 0), ENOTDIR);
    CHECK_ERR(ermfs_export_memfd(NULL, 0), EFAULT);
    CHECK_ERR(ermfs_export_memfd("/data.bin", 8), EINVAL);
    CHECK_ERR(ermfs_export_memfd("/data.bin", -1), EINVAL);
    CHECK_ERR(ermfs_fs_export_memfd(NULL, "/data.bin", 0), EFAULT);
}

static void import(void) {
    int mfd = memfd_create("ermfs-test-scratch", MFD_CLOEXEC);
    CHECK(mfd >= 0);
    CHECK(write(mfd, data, 5000) == 5000);
    CHECK(ermfs_import_fd("/imported", mfd, 0) == 0); /* from the offset on */
    CHECK(lseek(mfd, 0, SEEK_SET) == 0);
    CHECK(ermfs_import_fd("/imported", mfd, 0) == 5000);
    CHECK(lseek(mfd, 0, SEEK_CUR) == 0); /* a memfd's offset is left alone */
    struct stat st;
    CHECK(ermfs_stat("/imported", &st) == 0 && st.st_size == 5000);
    unsigned char back[5000];
    int fd = ermfs_open("/imported", O_RDONLY, 0);
    CHECK(fd >= 0 && ermfs_read(fd, back, sizeof back) == 5000);
    CHECK(memcmp(back, data, 5000) == 0 && ermfs_close(fd) == 0);

    CHECK_ERR(ermfs_import_fd("/imported", mfd, O_EXCL), EEXIST);
    CHECK(ftruncate(mfd, 10) == 0);
    CHECK(ermfs_import_fd("/imported", mfd, 0) == 10); /* replaces */
    CHECK(ermfs_stat("/imported", &st) == 0 && st.st_size == 10);
    CHECK_ERR(ermfs_import_fd("/imported", -1, 0), EBADF);
    CHECK_ERR(ermfs_import_fd("/imported", mfd, O_TRUNC), EINVAL);
    CHECK_ERR(ermfs_import_fd("/dir", mfd, 0), EISDIR);
    CHECK_ERR(ermfs_import_fd(NULL, mfd, 0), EFAULT);
    CHECK_ERR(ermfs_fs_import_fd(NULL, "/imported", mfd, 0), EFAULT);
    CHECK(close(mfd) == 0);
    CHECK_ERR(ermfs_import_fd("/imported", mfd, 0), EBADF);

    /* round trip: export, import under a new name, compare */
    int efd = ermfs_export_memfd("/data.bin", ERMFS_EXPORT_SEALED);
    CHECK(efd >= 0);
    CHECK(ermfs_import_fd("/copy.bin", efd, O_EXCL) == SIZE);
    CHECK(close(efd) == 0);
    static unsigned char copy[SIZE];
    fd = ermfs_open("/copy.bin", O_RDONLY, 0);
    CHECK(fd >= 0 && ermfs_pread(fd, copy, SIZE, 0) == SIZE);
    CHECK(memcmp(copy, data, SIZE) == 0 && ermfs_close(fd) == 0);
    CHECK(ermfs_unlink("/copy.bin") == 0 && ermfs_unlink("/imported") == 0);
}

int main(void) {
    /* compressible but not trivial */
    uint32_t x = 12345;
    for (size_t i = 0; i < SIZE; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)((x >> 16) % 16 + 'a');
    }
    CHECK(ermfs_mkdir("/dir", 0755) == 0);
    put("/data.bin", SIZE); /* closed: compressed; export inflates it */
    export_read();
    export_mmap();
    export_seek();
    export_fstat();
    export_sealed();
    export_errors();
    import();
    CHECK(ermfs_unlink("/data.bin") == 0 && ermfs_rmdir("/dir") == 0);
    ermfs_stats_t stats;
    CHECK(ermfs_stats(&stats) == 0 && stats.open_fds == 0);
    printf("test_ermfd: ok\n");
    return 0;
}
