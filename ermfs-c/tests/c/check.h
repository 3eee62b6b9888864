/* check.h: the few helpers the C tests share (CHECK, errno checks, quick mode). */
#ifndef ERMFS_TEST_CHECK_H
#define ERMFS_TEST_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fails the program with the expression, file and line when `cond` is false. */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s (errno %d: %s)\n", __FILE__,    \
                    __LINE__, #cond, errno, strerror(errno));                        \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* Checks that `call` returns -1 and sets errno to `code`. */
#define CHECK_ERR(call, code)                                                        \
    do {                                                                             \
        errno = 0;                                                                   \
        long long check_rc_ = (long long)(call);                                     \
        if (check_rc_ != -1 || errno != (code)) {                                    \
            fprintf(stderr, "%s:%d: %s: want errno %d (%s), got rc %lld errno %d (%s)\n", \
                    __FILE__, __LINE__, #call, (code), strerror(code), check_rc_,    \
                    errno, strerror(errno));                                         \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* Checks that `call` returns NULL and sets errno to `code`. */
#define CHECK_NULL_ERR(call, code)                                                   \
    do {                                                                             \
        errno = 0;                                                                   \
        const void *check_p_ = (const void *)(call);                                 \
        if (check_p_ != NULL || errno != (code)) {                                   \
            fprintf(stderr, "%s:%d: %s: want NULL with errno %d (%s), got %p errno %d\n", \
                    __FILE__, __LINE__, #call, (code), strerror(code), check_p_, errno); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* Whether ERMFS_C_QUICK is set (valgrind runs: smaller loops). */
static inline int quick(void) {
    const char *q = getenv("ERMFS_C_QUICK");
    return q != NULL && q[0] == '1';
}

#endif
