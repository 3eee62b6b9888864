/*
 * test_full_store.c: an instance filled to its memory limit through the C
 * ABI still reads every file back byte-exact (read, pread, an export's
 * mapping), under each compression policy, locked and lockless; a writable
 * open of a compressed file that does not fit fails with ENOSPC.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ermfs.h"

#define LIMIT (2u << 20)
#define CHUNK (16u << 10)
#define MAX_FILES 2000

/* File i's intended length and byte k: text that compresses, or bytes of
 * a xorshift stream that do not. */
static size_t length_of(unsigned i) { return 8000 + (i * 7919u) % 300000; }

static unsigned char byte_of(unsigned i, size_t k) {
    static const char text[] = "the quick brown fox jumps over the lazy dog ";
    if (i % 2 == 0) return (unsigned char)text[(k + i) % (sizeof text - 1)];
    uint64_t x = ((uint64_t)i << 32) ^ (k / 8 + 1);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return (unsigned char)(x >> (8 * (k % 8)));
}

static void fill_buf(unsigned i, size_t at, unsigned char *buf, size_t n) {
    for (size_t k = 0; k < n; k++) buf[k] = byte_of(i, at + k);
}

/* Checks that `got` holds file i's bytes from `at`. */
static int same(unsigned i, size_t at, const unsigned char *got, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (got[k] != byte_of(i, at + k)) return 0;
    return 1;
}

/* Writes files until a new file's first chunk is refused twice in a row;
 * records each file's written length in `lens`; returns the file count. */
static unsigned fill_some(const ermfs_t *fs, unsigned first, size_t *lens, size_t *total) {
    static unsigned char chunk[CHUNK];
    unsigned refused = 0, i = first;
    for (; i < MAX_FILES && refused < 2; i++) {
        char path[32];
        snprintf(path, sizeof path, "/f%u", i);
        int fd = ermfs_fs_open(fs, path, O_CREAT | O_WRONLY, 0644);
        CHECK(fd >= 0);
        size_t len = length_of(i), written = 0;
        while (written < len) {
            size_t n = len - written < CHUNK ? len - written : CHUNK;
            fill_buf(i, written, chunk, n);
            ssize_t w = ermfs_fs_pwrite(fs, fd, chunk, n, (off_t)written);
            if (w < 0) {
                CHECK(errno == ENOSPC);
                break;
            }
            CHECK((size_t)w == n);
            written += n;
        }
        refused = written == 0 ? refused + 1 : 0;
        *total += written;
        lens[i] = written;
        CHECK(ermfs_fs_close(fs, fd) == 0);
    }
    CHECK(i < MAX_FILES);
    return i;
}

static void read_back(const ermfs_t *fs, unsigned i, size_t len) {
    static unsigned char buf[CHUNK];
    char path[32];
    snprintf(path, sizeof path, "/f%u", i);
    int fd = ermfs_fs_open(fs, path, O_RDONLY, 0);
    CHECK(fd >= 0);
    size_t at = 0;
    for (;;) {
        ssize_t n = ermfs_fs_read(fs, fd, buf, sizeof buf);
        CHECK(n >= 0);
        if (n == 0) break;
        CHECK(same(i, at, buf, (size_t)n));
        at += (size_t)n;
    }
    CHECK(at == len);
    if (len > 5000) {
        CHECK(ermfs_fs_pread(fs, fd, buf, 5000, (off_t)(len / 3)) == 5000);
        CHECK(same(i, len / 3, buf, 5000));
    }
    CHECK(ermfs_fs_close(fs, fd) == 0);
    if (i % 5 == 0 && len > 0) {
        int m = ermfs_fs_export_memfd(fs, path, 0);
        CHECK(m >= 0);
        const unsigned char *map = mmap(NULL, len, PROT_READ, MAP_SHARED, m, 0);
        CHECK(map != MAP_FAILED);
        CHECK(same(i, 0, map, len));
        CHECK(munmap((void *)map, len) == 0 && close(m) == 0);
    }
}

static void full_store(uint32_t policy, bool lockless) {
    ermfs_options_t opts;
    CHECK(ermfs_options_init(&opts) == 0);
    opts.memory_limit = LIMIT;
    opts.policy = policy;
    opts.background_delay_ms = 0;
    opts.lockless = lockless;
    ermfs_t *fs = ermfs_new(&opts);
    CHECK(fs != NULL);
    static size_t lens[MAX_FILES];
    unsigned files = 0;
    for (;;) {
        size_t total = 0;
        files = fill_some(fs, files, lens, &total);
        CHECK(ermfs_fs_settle(fs) == 0);
        if (total == 0) break;
    }
    /* Full: a new chunk does not fit. */
    static unsigned char chunk[CHUNK];
    int probe = ermfs_fs_open(fs, "/probe", O_CREAT | O_RDWR, 0600);
    CHECK(probe >= 0);
    CHECK_ERR(ermfs_fs_write(fs, probe, chunk, sizeof chunk), ENOSPC);
    /* The largest compressed text file (st_blocks far below its size)
     * cannot be opened for writing: it would be inflated whole. */
    if (policy != ERMFS_POLICY_NEVER) {
        unsigned best = MAX_FILES;
        for (unsigned i = 0; i < files; i += 2) {
            char path[32];
            struct stat st;
            snprintf(path, sizeof path, "/f%u", i);
            CHECK(ermfs_fs_stat(fs, path, &st) == 0 && (size_t)st.st_size == lens[i]);
            if (lens[i] > 2 * CHUNK && (size_t)st.st_blocks * 512 < lens[i] / 2 &&
                (best == MAX_FILES || lens[i] > lens[best]))
                best = i;
        }
        CHECK(best != MAX_FILES);
        char path[32];
        snprintf(path, sizeof path, "/f%u", best);
        CHECK_ERR(ermfs_fs_open(fs, path, O_RDWR, 0), ENOSPC);
    }
    for (unsigned i = 0; i < files; i++) read_back(fs, i, lens[i]);
    CHECK(ermfs_fs_close(fs, probe) == 0);
    ermfs_free(fs);
}

int main(void) {
    const uint32_t policies[] = {ERMFS_POLICY_IMMEDIATE, ERMFS_POLICY_BACKGROUND,
                                 ERMFS_POLICY_NEVER};
    for (int lockless = 0; lockless <= 1; lockless++)
        for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++)
            full_store(policies[p], lockless);
    printf("test_full_store: ok (3 policies, locked and lockless)\n");
    return 0;
}
