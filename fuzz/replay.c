/*
 * Corpus replayer: a plain main() that links with one fuzz target in place
 * of libFuzzer, so that the committed corpus runs as an ordinary test (and
 * under the sanitizers) with any C compiler. Each argument that is a
 * directory has its regular files run through LLVMFuzzerTestOneInput in
 * name order (so runs are deterministic); any other argument is run as a
 * file. Only the first 1 MiB of a file is used. A missing or
 * empty directory, or an unreadable file, is an error: a corpus that
 * silently vanished must not pass as a replay of nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_BYTES ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads at most REPLAY_MAX_BYTES of `path` and runs them. 0 or -1. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = malloc(REPLAY_MAX_BYTES);
    if (!buf) {
        fclose(f);
        fprintf(stderr, "replay: out of memory\n");
        return -1;
    }
    size_t n = fread(buf, 1, REPLAY_MAX_BYTES, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* Copy to an exact-size allocation so ASan sees reads past the end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        fprintf(stderr, "replay: out of memory\n");
        return -1;
    }
    if (n)
        memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins dir and name into a fresh string, or NULL. */
static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Runs every regular file of `dir` in name order; adds to *count. */
static int replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0, ran = 0;
    int rc = 0;

    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' &&
            (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **p = realloc(names, nc * sizeof(*p));
            if (!p) {
                rc = -1;
                break;
            }
            names = p;
            cap = nc;
        }
        if ((names[n] = join_path(dir, e->d_name)) == NULL) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if ((rc = replay_file(names[i])) == 0)
            ran++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc != 0) {
        fprintf(stderr, "replay: failed in directory %s\n", dir);
        return rc;
    }
    if (ran == 0) {
        fprintf(stderr, "replay: directory %s holds no input\n", dir);
        return -1;
    }
    *count += ran;
    return 0;
}

int main(int argc, char **argv)
{
    size_t count = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argc > 0 ? argv[0] : "replay");
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            if (replay_dir(argv[i], &count) != 0)
                return 1;
        } else {
            if (replay_file(argv[i]) != 0)
                return 1;
            count++;
        }
    }
    printf("replayed %zu inputs\n", count);
    return 0;
}
