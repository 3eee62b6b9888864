/*
 * benchmark_lockless.c: open/close throughput of the locked and the lockless
 * backends at 2 threads through the C API, and their ratio.
 *
 * Each thread opens and closes its own file, which main keeps open so no
 * close is a last close (the registry lookup and the descriptor table are
 * measured, not compression). Best of several alternating rounds per mode;
 * the last line is `ratio lockless/locked open-close 2t: R` (bigger: lockless
 * faster).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ermfs.h"

enum { THREADS = 2 };

static ermfs_t *fs;
static int ops;
static pthread_barrier_t start;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *worker(void *arg) {
    char path[32];
    snprintf(path, sizeof path, "/dir/file-%d", (int)(intptr_t)arg);
    pthread_barrier_wait(&start);
    for (int i = 0; i < ops; i++) {
        int fd = ermfs_fs_open(fs, path, O_RDONLY, 0);
        CHECK(fd >= 0);
        CHECK(ermfs_fs_close(fs, fd) == 0);
    }
    return NULL;
}

/* A fresh instance (locked or lockless) with one file per thread, each held
 * open by `held` so the benchmark's closes are never last closes. */
static ermfs_t *setup(bool lockless, int held[THREADS]) {
    ermfs_options_t opts;
    CHECK(ermfs_options_init(&opts) == 0);
    opts.lockless = lockless;
    ermfs_t *made = ermfs_new(&opts);
    CHECK(made != NULL && ermfs_fs_mkdir(made, "/dir", 0755) == 0);
    for (int t = 0; t < THREADS; t++) {
        char path[32];
        snprintf(path, sizeof path, "/dir/file-%d", t);
        held[t] = ermfs_fs_open(made, path, O_CREAT | O_RDWR, 0644);
        CHECK(held[t] >= 0);
    }
    return made;
}

static void teardown(ermfs_t *made, const int held[THREADS]) {
    for (int t = 0; t < THREADS; t++) CHECK(ermfs_fs_close(made, held[t]) == 0);
    ermfs_free(made);
}

/* Open/close cycles per second of one round at THREADS threads on `on`. */
static double round_rate(ermfs_t *on) {
    fs = on;
    pthread_t th[THREADS];
    CHECK(pthread_barrier_init(&start, NULL, THREADS + 1) == 0);
    for (int t = 0; t < THREADS; t++) {
        CHECK(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0);
    }
    double t0 = now();
    pthread_barrier_wait(&start);
    for (int t = 0; t < THREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
    double rate = (double)ops * THREADS / (now() - t0);
    CHECK(pthread_barrier_destroy(&start) == 0);
    return rate;
}

int main(void) {
    ops = quick() ? 20000 : 300000;
    int rounds = quick() ? 3 : 7;
    int held_locked[THREADS], held_lockless[THREADS];
    ermfs_t *locked_fs = setup(false, held_locked);
    ermfs_t *lockless_fs = setup(true, held_lockless);
    /* Rounds alternate, so a change in machine load hits both modes alike. */
    double locked = 0, lockless = 0;
    for (int r = 0; r < rounds; r++) {
        double a = round_rate(locked_fs), b = round_rate(lockless_fs);
        if (a > locked) locked = a;
        if (b > lockless) lockless = b;
    }
    teardown(locked_fs, held_locked);
    teardown(lockless_fs, held_lockless);
    printf("locked open-close 2t: %.2f Mops/s\n", locked / 1e6);
    printf("lockless open-close 2t: %.2f Mops/s\n", lockless / 1e6);
    printf("ratio lockless/locked open-close 2t: %.2f\n", lockless / locked);
    return 0;
}
