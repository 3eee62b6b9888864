/*
 * test_lockless_concurrency.c: pthreads hammering one instance, locked and
 * lockless: private files (open/pwrite/pread/close, each close compressing),
 * a shared file opened and closed by every thread (last closes racing with
 * reopens), dup/close and concurrent reads on one shared description
 * (refcounts and atomic offsets), O_APPEND records, and thousands of
 * open/close cycles; then every descriptor must be gone and every byte right.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "ermfs.h"

enum { THREADS = 4, SLOT = 256, REC = 32, BIG = 64 * 1024 };

static ermfs_t *fs;
static int shared_fd; /* one description read by every thread */
static int iters, cycles;
static pthread_barrier_t start;
static long long bytes_read_total[THREADS];
static long long byte_sum_total[THREADS];

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    char priv[32], buf[SLOT], rec[REC];
    snprintf(priv, sizeof priv, "/private-%d", id);
    pthread_barrier_wait(&start);

    for (int it = 0; it < iters; it++) {
        /* a private file: its last close compresses it every time */
        int fd = ermfs_fs_open(fs, priv, O_CREAT | O_RDWR, 0644);
        CHECK(fd >= 0);
        memset(buf, 'a' + (it % 26), SLOT);
        CHECK(ermfs_fs_pwrite(fs, fd, buf, SLOT, (off_t)(it % 8) * SLOT) == SLOT);
        char back[SLOT];
        CHECK(ermfs_fs_pread(fs, fd, back, SLOT, (off_t)(it % 8) * SLOT) == SLOT);
        CHECK(memcmp(back, buf, SLOT) == 0);
        CHECK(ermfs_fs_close(fs, fd) == 0);

        /* the shared file: each thread owns one slot */
        fd = ermfs_fs_open(fs, "/shared", O_RDWR, 0);
        CHECK(fd >= 0);
        memset(buf, id * 16 + (it % 16), SLOT);
        CHECK(ermfs_fs_pwrite(fs, fd, buf, SLOT, (off_t)id * SLOT) == SLOT);
        CHECK(ermfs_fs_pread(fs, fd, back, SLOT, (off_t)id * SLOT) == SLOT);
        CHECK(memcmp(back, buf, SLOT) == 0);
        CHECK(ermfs_fs_close(fs, fd) == 0);

        /* O_APPEND records: each lands whole, once */
        fd = ermfs_fs_open(fs, "/log", O_WRONLY | O_APPEND, 0);
        CHECK(fd >= 0);
        memset(rec, 0, REC);
        snprintf(rec, REC, "t%d seq%06d", id, it);
        CHECK(ermfs_fs_write(fs, fd, rec, REC) == REC);
        CHECK(ermfs_fs_close(fs, fd) == 0);

        /* refcount stress on one description */
        int d = ermfs_fs_dup(fs, shared_fd);
        CHECK(d >= 0);
        CHECK(ermfs_fs_fsync(fs, d) == 0);
        CHECK(ermfs_fs_close(fs, d) == 0);
    }

    /* concurrent reads through the shared description: no byte twice */
    for (;;) {
        unsigned char chunk[100];
        ssize_t n = ermfs_fs_read(fs, shared_fd, chunk, sizeof chunk);
        CHECK(n >= 0);
        if (n == 0) break;
        bytes_read_total[id] += n;
        for (ssize_t i = 0; i < n; i++) byte_sum_total[id] += chunk[i];
    }

    /* thousands of open/close cycles */
    for (int c = 0; c < cycles; c++) {
        int fd = ermfs_fs_open(fs, (c & 1) ? "/shared" : priv, O_RDONLY, 0);
        CHECK(fd >= 0);
        CHECK(ermfs_fs_close(fs, fd) == 0);
    }
    return NULL;
}

static void run(bool lockless) {
    ermfs_options_t opts;
    CHECK(ermfs_options_init(&opts) == 0);
    opts.lockless = lockless;
    fs = ermfs_new(&opts);
    CHECK(fs != NULL && ermfs_fs_is_lockless(fs) == (int)lockless);

    int fd = ermfs_fs_open(fs, "/shared", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0 && ermfs_fs_close(fs, fd) == 0);
    fd = ermfs_fs_open(fs, "/log", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0 && ermfs_fs_close(fs, fd) == 0);

    /* the description read concurrently: BIG bytes, byte i = i % 251 */
    fd = ermfs_fs_open(fs, "/readme", O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0);
    static unsigned char big[BIG];
    long long want_sum = 0;
    for (int i = 0; i < BIG; i++) {
        big[i] = (unsigned char)(i % 251);
        want_sum += big[i];
    }
    CHECK(ermfs_fs_write(fs, fd, big, BIG) == BIG);
    CHECK(ermfs_fs_lseek(fs, fd, 0, SEEK_SET) == 0);
    shared_fd = fd;
    memset(bytes_read_total, 0, sizeof bytes_read_total);
    memset(byte_sum_total, 0, sizeof byte_sum_total);

    pthread_t th[THREADS];
    CHECK(pthread_barrier_init(&start, NULL, THREADS) == 0);
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
    }
    for (int i = 0; i < THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(pthread_barrier_destroy(&start) == 0);

    long long got = 0, sum = 0;
    for (int i = 0; i < THREADS; i++) {
        got += bytes_read_total[i];
        sum += byte_sum_total[i];
    }
    CHECK(got == BIG && sum == want_sum);
    CHECK(ermfs_fs_close(fs, shared_fd) == 0);

    /* every slot of the shared file holds its thread's last pattern */
    char back[SLOT];
    fd = ermfs_fs_open(fs, "/shared", O_RDONLY, 0);
    CHECK(fd >= 0);
    for (int id = 0; id < THREADS; id++) {
        CHECK(ermfs_fs_pread(fs, fd, back, SLOT, (off_t)id * SLOT) == SLOT);
        for (int i = 0; i < SLOT; i++) CHECK(back[i] == (char)(id * 16 + ((iters - 1) % 16)));
    }
    CHECK(ermfs_fs_close(fs, fd) == 0);

    /* every record once, whole */
    struct stat st;
    CHECK(ermfs_fs_stat(fs, "/log", &st) == 0);
    CHECK(st.st_size == (off_t)THREADS * iters * REC);
    fd = ermfs_fs_open(fs, "/log", O_RDONLY, 0);
    CHECK(fd >= 0);
    int *seen = calloc((size_t)THREADS * iters, sizeof *seen);
    CHECK(seen != NULL);
    char rec[REC];
    for (int r = 0; r < THREADS * iters; r++) {
        CHECK(ermfs_fs_read(fs, fd, rec, REC) == REC);
        int t, s;
        CHECK(sscanf(rec, "t%d seq%d", &t, &s) == 2);
        CHECK(t >= 0 && t < THREADS && s >= 0 && s < iters);
        CHECK(seen[t * iters + s]++ == 0);
    }
    free(seen);
    CHECK(ermfs_fs_close(fs, fd) == 0);

    ermfs_stats_t stats;
    CHECK(ermfs_fs_stats(fs, &stats) == 0);
    CHECK(stats.open_fds == 0);
    CHECK(stats.files == 3 + THREADS);
    CHECK(stats.compressions > 0);
    ermfs_free(fs); /* valgrind then proves nothing leaked */
}

int main(void) {
    iters = quick() ? 60 : 600;
    cycles = quick() ? 500 : 5000;
    run(false);
    run(true);
    printf("test_lockless_concurrency: ok (%d threads, %d iterations, %d open/close cycles each)\n",
           THREADS, iters, cycles);
    return 0;
}
