/*
 * tap.h -- a tiny TAP producer for the C unit tests, in the spirit of h2o's picotest.
 *
 * ok(cond, fmt, ...) records file and line on failure; is(got, want, what) compares integers;
 * is_str compares strings; done_testing() prints the plan and returns the exit status.
 */
#ifndef GW_TAP_H
#define GW_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed;

static inline void
tap_result(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void
tap_result(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    tap_run++;
    if (!pass)
        tap_failed++;
    printf("%sok %d - ", pass ? "" : "not ", tap_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!pass)
        printf("#   Failed at %s line %d\n", file, line);
    fflush(stdout);
}

static inline void
diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void
diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

#define ok(cond, ...) tap_result(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is(got, want, ...)                                                                         \
    do {                                                                                           \
        long long is_g_ = (long long)(got), is_w_ = (long long)(want);                             \
        tap_result(is_g_ == is_w_, __FILE__, __LINE__, __VA_ARGS__);                               \
        if (is_g_ != is_w_)                                                                        \
            diag("     got: %lld\n#   wanted: %lld", is_g_, is_w_);                               \
    } while (0)

#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *is_g_ = (got), *is_w_ = (want);                                                \
        int is_p_ = is_g_ && is_w_ ? strcmp(is_g_, is_w_) == 0 : is_g_ == is_w_;                   \
        tap_result(is_p_, __FILE__, __LINE__, __VA_ARGS__);                                        \
        if (!is_p_)                                                                                \
            diag("     got: '%s'\n#   wanted: '%s'", is_g_ ? is_g_ : "(null)",                    \
                 is_w_ ? is_w_ : "(null)");                                                        \
    } while (0)

static inline int
done_testing(void)
{
    printf("1..%d\n", tap_run);
    if (tap_failed)
        diag("failed %d of %d", tap_failed, tap_run);
    return tap_failed ? 1 : 0;
}

#endif
