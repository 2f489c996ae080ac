/* fuzz_driver.c — runs a libFuzzer target without libFuzzer.
 *
 *   fuzz_NAME [-max_total_time=S] [-runs=N] [-seed=X] [-max_len=L]
 *             [-write_seeds=DIR] [DIR | FILE]...
 *
 * With directories (a seed corpus): runs every file in them once as it is,
 * with the target's generated seeds (ac_fuzz_seeds()), then random
 * mutations of them (bit flips, interesting bytes, extreme varints and
 * numbers, inserted, deleted, duplicated and spliced ranges, several
 * stacked) until S seconds (default 5; AC_FUZZ_SECONDS overrides) or N
 * inputs. There is no coverage feedback: this is the bounded smoke run CI
 * does on every build (ctest -L fuzz), not a replacement for long libFuzzer
 * runs. With only files: runs each once (reproducing a crash).
 *
 * The flags are libFuzzer's, so the same command line drives either build.
 * Each input is passed in a buffer of exactly its size, so the sanitizer
 * build (AC_SANITIZE) catches reads past it. An input that crashes the
 * target is written to crash-NAME-<pid> (in AC_FUZZ_ARTIFACT_DIR, else the
 * current directory) before the process dies; the seed is printed at the
 * start (AC_FUZZ_SEED or -seed= repeats a run). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

/* Weak: a target may define neither. */
#pragma weak LLVMFuzzerInitialize
#pragma weak ac_fuzz_seeds
/* The sanitizer runtime's hook, when it is linked in. */
void __sanitizer_set_death_callback(void (*callback)(void));
#pragma weak __sanitizer_set_death_callback

#define FUZZ_DEFAULT_SECONDS 5.0
#define FUZZ_DEFAULT_MAX_LEN 4096
#define FUZZ_MAX_SEEDS 4096
#define FUZZ_SEED_FILE_MAX (1024 * 1024)

struct fuzz_seed {
    uint8_t *data;
    size_t len;
};

static struct fuzz_seed fuzz_seeds[FUZZ_MAX_SEEDS];
static size_t fuzz_n_seeds;
static uint64_t fuzz_rng;

/* The input being run, for the crash handler. */
static const uint8_t *volatile fuzz_cur;
static volatile size_t fuzz_cur_len;
static char fuzz_crash_path[1024];

/* xorshift64*: small, fast, and the same sequence for the same seed. */
static uint64_t fuzz_rand(void)
{
    fuzz_rng ^= fuzz_rng >> 12;
    fuzz_rng ^= fuzz_rng << 25;
    fuzz_rng ^= fuzz_rng >> 27;
    return fuzz_rng * UINT64_C(2685821657736338717);
}

static size_t fuzz_below(size_t n)
{
    return n ? (size_t)(fuzz_rand() % n) : 0;
}

static double fuzz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fuzz_add_seed(const uint8_t *data, size_t size)
{
    if (fuzz_n_seeds == FUZZ_MAX_SEEDS) {
        return;
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        fprintf(stderr, "fuzz: out of memory\n");
        exit(1);
    }
    if (size) {
        memcpy(copy, data, size);
    }
    fuzz_seeds[fuzz_n_seeds].data = copy;
    fuzz_seeds[fuzz_n_seeds++].len = size;
}

static int fuzz_read_file(const char *path)
{
    int rc = -1;
    uint8_t *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        goto out;
    }
    buf = malloc(FUZZ_SEED_FILE_MAX);
    if (!buf) {
        goto out;
    }
    size_t n = fread(buf, 1, FUZZ_SEED_FILE_MAX, f);
    if (ferror(f)) {
        fprintf(stderr, "fuzz: %s: read error\n", path);
        goto out;
    }
    fuzz_add_seed(buf, n);
    rc = 0;
out:
    free(buf);
    if (f) {
        fclose(f);
    }
    return rc;
}

static int fuzz_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every regular file of dir, in name order (the same run for the same seed). */
static int fuzz_read_dir(const char *dir)
{
    char *names[FUZZ_MAX_SEEDS];
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL && n < FUZZ_MAX_SEEDS) {
        if (de->d_name[0] != '.') {
            names[n] = strdup(de->d_name);
            if (names[n]) {
                n++;
            }
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), fuzz_name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && fuzz_read_file(path) != 0) {
            rc = -1;
        }
        free(names[i]);
    }
    return rc;
}

static int fuzz_write_seeds(const char *dir)
{
    for (size_t i = 0; i < fuzz_n_seeds; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/seed-%04zu", dir, i);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(fuzz_seeds[i].data, 1, fuzz_seeds[i].len, f) != fuzz_seeds[i].len) {
            fprintf(stderr, "fuzz: cannot write %s\n", path);
            if (f) {
                fclose(f);
            }
            return -1;
        }
        fclose(f);
    }
    return 0;
}

/* Async-signal-safe: writes the running input to fuzz_crash_path. */
static void fuzz_save_crash(void)
{
    static const char msg[] = "fuzz: the crashing input is in ";
    const uint8_t *p = fuzz_cur;
    size_t n = fuzz_cur_len;
    if (!p) {
        return;
    }
    fuzz_cur = NULL;
    int fd = open(fuzz_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return;
    }
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    close(fd);
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    ignored = write(STDERR_FILENO, fuzz_crash_path, strlen(fuzz_crash_path));
    ignored = write(STDERR_FILENO, "\n", 1);
    (void)ignored;
}

static void fuzz_on_signal(int sig)
{
    fuzz_save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void fuzz_run_one(const uint8_t *data, size_t len)
{
    /* An exact-size copy: a read past the end is a sanitizer error. */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        fprintf(stderr, "fuzz: out of memory\n");
        exit(1);
    }
    if (len) {
        memcpy(copy, data, len);
    }
    fuzz_cur_len = len;
    fuzz_cur = copy;
    LLVMFuzzerTestOneInput(copy, len);
    fuzz_cur = NULL;
    free(copy);
}

/* Text that tends to matter to parsers of numbers, strings and varints. */
static const char *const fuzz_tokens[] = {
    "0",
    "-1",
    "1e308",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "\"\"",
    "null",
    "true",
    "{}",
    "[]",
    "\\u0000",
    "\\ud800",
    "\xff",
    "\xc3\xa9",
    "\n",
    ": ",
    "- ",
    "&a",
    "*a",
    "!!str",
    "0x7f",
    "1.5",
    "NaN",
    "2026-01-03T10:00:00Z",
    "9999-12-31T23:59:59Z",
};

static size_t fuzz_insert(uint8_t *buf, size_t len, size_t cap, size_t at, const uint8_t *p,
                          size_t n)
{
    if (n > cap - len) {
        n = cap - len;
    }
    memmove(buf + at + n, buf + at, len - at);
    memcpy(buf + at, p, n);
    return len + n;
}

/* One random change to buf[0..len) (capacity cap); returns the new length. */
static size_t fuzz_mutate(uint8_t *buf, size_t len, size_t cap)
{
    static const uint8_t interesting[] = {0,   1,    2,    0x7e, 0x7f, 0x80, 0x81, 0xfe, 0xff,
                                          '"', '\\', '\n', ':',  '{',  '}',  '[',  ']',  ' '};
    size_t at = fuzz_below(len + 1);
    switch (fuzz_below(11)) {
    case 0:
        if (len) {
            buf[fuzz_below(len)] ^= (uint8_t)(1u << fuzz_below(8));
        }
        break;
    case 1:
        if (len) {
            buf[fuzz_below(len)] = (uint8_t)fuzz_rand();
        }
        break;
    case 2:
        if (len) {
            buf[fuzz_below(len)] = interesting[fuzz_below(sizeof(interesting))];
        }
        break;
    case 3: { /* random bytes */
        uint8_t r[8];
        size_t n = 1 + fuzz_below(sizeof(r));
        for (size_t i = 0; i < n; i++) {
            r[i] = (uint8_t)fuzz_rand();
        }
        len = fuzz_insert(buf, len, cap, at, r, n);
        break;
    }
    case 4: /* delete a range */
        if (len) {
            size_t from = fuzz_below(len);
            size_t n = 1 + fuzz_below(len - from < 32 ? len - from : 32);
            memmove(buf + from, buf + from + n, len - from - n);
            len -= n;
        }
        break;
    case 5: /* duplicate a range */
        if (len) {
            uint8_t tmp[64];
            size_t from = fuzz_below(len);
            size_t n = 1 + fuzz_below(len - from < sizeof(tmp) ? len - from : sizeof(tmp));
            memcpy(tmp, buf + from, n);
            len = fuzz_insert(buf, len, cap, at, tmp, n);
        }
        break;
    case 6: /* splice in a piece of another seed */
    case 7:
        if (fuzz_n_seeds) {
            const struct fuzz_seed *s = &fuzz_seeds[fuzz_below(fuzz_n_seeds)];
            if (s->len) {
                size_t from = fuzz_below(s->len);
                size_t n = 1 + fuzz_below(s->len - from < 256 ? s->len - from : 256);
                len = fuzz_insert(buf, len, cap, at, s->data + from, n);
            }
        }
        break;
    case 8: { /* an extreme Avro varint: INT64_MIN/MAX, a huge or negative length */
        static const uint8_t varints[][10] = {
            {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
            {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
            {0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
            {0x80, 0x80, 0x80, 0x80, 0x08},
            {0x01},
        };
        static const size_t varint_len[] = {10, 10, 10, 5, 1};
        size_t k = fuzz_below(sizeof(varint_len) / sizeof(varint_len[0]));
        len = fuzz_insert(buf, len, cap, at, varints[k], varint_len[k]);
        break;
    }
    case 9: { /* a token */
        const char *t = fuzz_tokens[fuzz_below(sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]))];
        len = fuzz_insert(buf, len, cap, at, (const uint8_t *)t, strlen(t));
        break;
    }
    default: { /* replace a run of digits with another number */
        size_t i = fuzz_below(len + 1);
        while (i < len && (buf[i] < '0' || buf[i] > '9')) {
            i++;
        }
        if (i < len) {
            size_t end = i;
            while (end < len && buf[end] >= '0' && buf[end] <= '9') {
                end++;
            }
            char num[32];
            int n = snprintf(num, sizeof(num), "%" PRId64, (int64_t)fuzz_rand() >> fuzz_below(64));
            memmove(buf + i, buf + end, len - end);
            len -= end - i;
            len = fuzz_insert(buf, len, cap, i, (const uint8_t *)num, (size_t)n);
        }
        break;
    }
    }
    return len;
}

static const char *fuzz_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

int main(int argc, char **argv)
{
    double seconds = FUZZ_DEFAULT_SECONDS;
    long long runs = -1;
    size_t max_len = FUZZ_DEFAULT_MAX_LEN;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    const char *write_seeds = NULL;
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int n_dirs = 0;
    int n_files = 0;
    const char *v;

    if ((v = getenv("AC_FUZZ_SECONDS")) && *v) {
        seconds = strtod(v, NULL);
    }
    if ((v = getenv("AC_FUZZ_SEED")) && *v) {
        seed = strtoull(v, NULL, 10);
    }
    for (int i = 1; i < argc; i++) {
        if ((v = fuzz_flag(argv[i], "-max_total_time"))) {
            if (!getenv("AC_FUZZ_SECONDS")) {
                seconds = strtod(v, NULL);
            }
        } else if ((v = fuzz_flag(argv[i], "-runs"))) {
            runs = strtoll(v, NULL, 10);
        } else if ((v = fuzz_flag(argv[i], "-seed"))) {
            if (!getenv("AC_FUZZ_SEED")) {
                seed = strtoull(v, NULL, 10);
            }
        } else if ((v = fuzz_flag(argv[i], "-max_len"))) {
            max_len = (size_t)strtoull(v, NULL, 10);
        } else if ((v = fuzz_flag(argv[i], "-write_seeds"))) {
            write_seeds = v;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "%s: flag %s ignored\n", name, argv[i]);
        }
    }
    fuzz_rng = seed ? seed : 1;

    if (LLVMFuzzerInitialize) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (argv[i][0] == '-') {
            continue;
        }
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s: %s\n", name, argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode) ? fuzz_read_dir(argv[i]) : fuzz_read_file(argv[i])) {
            return 1;
        }
        n_dirs += S_ISDIR(st.st_mode) ? 1 : 0;
        n_files += S_ISDIR(st.st_mode) ? 0 : 1;
    }
    if (ac_fuzz_seeds && (n_dirs > 0 || n_files == 0)) {
        ac_fuzz_seeds(fuzz_add_seed);
    }
    if (write_seeds) {
        return fuzz_write_seeds(write_seeds) == 0 ? 0 : 1;
    }

    const char *art = getenv("AC_FUZZ_ARTIFACT_DIR");
    snprintf(fuzz_crash_path, sizeof(fuzz_crash_path), "%s/crash-%s-%d", art && *art ? art : ".",
             name, (int)getpid());
    signal(SIGSEGV, fuzz_on_signal);
    signal(SIGABRT, fuzz_on_signal);
    signal(SIGBUS, fuzz_on_signal);
    signal(SIGFPE, fuzz_on_signal);
    signal(SIGILL, fuzz_on_signal);
    if (__sanitizer_set_death_callback) {
        __sanitizer_set_death_callback(fuzz_save_crash);
    }

    double start = fuzz_now();
    long long done = 0;
    for (size_t i = 0; i < fuzz_n_seeds; i++) {
        fuzz_run_one(fuzz_seeds[i].data, fuzz_seeds[i].len);
        done++;
    }
    if (n_files > 0 && n_dirs == 0) { /* reproducing: the files only */
        fprintf(stderr, "%s: ran %lld inputs\n", name, done);
        return 0;
    }
    fprintf(stderr, "%s: seed %" PRIu64 ", %zu seeds, %.1f s\n", name, seed, fuzz_n_seeds, seconds);
    for (size_t i = 0; i < fuzz_n_seeds; i++) {
        if (fuzz_seeds[i].len > max_len) {
            max_len = fuzz_seeds[i].len;
        }
    }
    size_t cap = max_len + 64;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        return 1;
    }
    while ((runs < 0 || done < runs) && (runs >= 0 || fuzz_now() - start < seconds)) {
        size_t len = 0;
        if (fuzz_n_seeds && fuzz_below(16) != 0) {
            const struct fuzz_seed *s = &fuzz_seeds[fuzz_below(fuzz_n_seeds)];
            len = s->len < cap ? s->len : cap;
            memcpy(buf, s->data, len);
        }
        for (size_t m = 1 + fuzz_below(6); m > 0; m--) {
            len = fuzz_mutate(buf, len, cap);
        }
        fuzz_run_one(buf, len > max_len ? max_len : len);
        done++;
    }
    free(buf);
    for (size_t i = 0; i < fuzz_n_seeds; i++) {
        free(fuzz_seeds[i].data);
    }
    fprintf(stderr, "%s: %lld inputs in %.1f s, no crash\n", name, done, fuzz_now() - start);
    return 0;
}
