/*
 * The trusted state file and its journal (src/trust/tstate): the file round
 * trips and refuses an edit or another key; v2 and v1 files by their
 * headers' versions, signatures of the wrong context refused; the journal keeps the newest of
 * its two slots, survives a torn slot (the other one still answers), ignores
 * a slot signed by another key or from a different identity, reopens with
 * what was written, and is empty after a reset or when recreated at the
 * wrong size. Also the file helpers underneath (src/util/file): whole-file
 * reads with their cap, atomic replacement.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "trust/tstate.h"
#include "util/file.h"

typedef struct fixture {
    char dir[64];
    char json[128], journal[128];
    vmdb_identity id, other;
    vmdb_hasher *h;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vmdb-tstate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->json, sizeof f->json, "%s/trusted_state.json", f->dir);
    snprintf(f->journal, sizeof f->journal, "%s/trusted_state.journal", f->dir);
    tu_make_identity(&f->id, 1);
    tu_make_identity(&f->other, 77);
    assert_int_equal(vmdb_hasher_new(&f->h, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->json);
    unlink(f->journal);
    rmdir(f->dir);
    vmdb_hasher_free(f->h);
    free(f);
    return 0;
}

/* A chain-shaped state: committed = seq-1, intent = seq (or none). */
static vmdb_tstate state_at(fixture *f, const vmdb_identity *id, uint64_t seq, bool intent)
{
    vmdb_tstate ts;
    memset(&ts, 0, sizeof ts);
    ts.committed.h.seq = intent ? seq - 1 : seq;
    ts.committed.h.time_ms = 1000 + seq;
    assert_int_equal(vmdb_sheader_sign(&ts.committed, f->h, id, VMDB_SIG_COMMITTED), 0);
    if (intent) {
        ts.has_intent = true;
        ts.intent.h.seq = seq;
        ts.intent.h.time_ms = 2000 + seq;
        memcpy(ts.intent.h.prev, ts.committed.hash, 32);
        assert_int_equal(vmdb_sheader_sign(&ts.intent, f->h, id, VMDB_SIG_INTENT), 0);
    }
    return ts;
}

static void test_file_round_trip(void **state)
{
    fixture *f = *state;
    char why[200];
    vmdb_tstate in = state_at(f, &f->id, 9, true), out;
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why),
                     VMDB_ENOTFOUND);
    assert_int_equal(vmdb_tstate_write(f->json, &in, f->h, &f->id), 0);
    struct stat st;
    assert_int_equal(stat(f->json, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why), 0);
    assert_true(out.has_intent);
    assert_int_equal(out.intent.h.seq, 9);
    assert_memory_equal(out.intent.hash, in.intent.hash, 32);
    assert_int_equal(vmdb_tstate_rank(&out), 9);
    /* Read with another key: refused and said so. */
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->other.pk, why, sizeof why),
                     VMDB_EVERIFY);
    assert_non_null(strstr(why, "another identity"));
    /* One byte of a header changed: the signature fails. */
    size_t len = 0;
    uint8_t *raw = tu_read_file(f->json, &len);
    char *p = strstr((char *)raw, "\"header\": \"");
    assert_non_null(p);
    p += 12;
    *p = *p == '0' ? '1' : '0';
    int fd = open(f->json, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, raw, len), (ssize_t)len);
    close(fd);
    free(raw);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why),
                     VMDB_EVERIFY);
}

/* Replaces the first `from` in the file by `to` (same length or not). */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t len = 0;
    uint8_t *raw = tu_read_file(path, &len);
    char *p = strstr((char *)raw, from);
    assert_non_null(p);
    size_t off = (size_t)(p - (char *)raw), fl = strlen(from), tl = strlen(to);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(raw, 1, off, fp), off);
    assert_int_equal(fwrite(to, 1, tl, fp), tl);
    assert_int_equal(fwrite(raw + off + fl, 1, len - off - fl, fp), len - off - fl);
    fclose(fp);
    free(raw);
}

/* PROTOCOL.md §8.3 and §12: a state of v2 headers is a "version": 2 file
 * whose committed header carries the header signature and whose intent the
 * intent signature (swapped, refused); a state of v1 headers is a v1 file,
 * read with or without "version": 1 and refused when relabelled 2; a v1
 * committed header with a v2 intent (the upgrade in flight) is a v2 file. */
static void test_file_versions(void **state)
{
    fixture *f = *state;
    char why[200];
    vmdb_tstate in = state_at(f, &f->id, 4, true), out, sw;
    assert_int_equal(vmdb_tstate_write(f->json, &in, f->h, &f->id), 0);
    size_t len = 0;
    char *raw = (char *)tu_read_file(f->json, &len);
    assert_non_null(strstr(raw, "\"version\": 2"));
    free(raw);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why), 0);
    assert_int_equal(out.committed.h.version, 2);
    /* The intent signature where the header signature belongs, and back:
     * the file signature is made over them, yet the file is refused. */
    sw = in;
    memcpy(sw.committed.sig, in.committed.sig, 64);
    assert_int_equal(
        vmdb_header_sign(sw.committed.sig, 2, VMDB_SIG_INTENT, sw.committed.hash, f->id.sk), 0);
    assert_int_equal(vmdb_tstate_write(f->json, &sw, f->h, &f->id), 0);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why),
                     VMDB_EVERIFY);
    sw = in;
    assert_int_equal(
        vmdb_header_sign(sw.intent.sig, 2, VMDB_SIG_COMMITTED, sw.intent.hash, f->id.sk), 0);
    assert_int_equal(vmdb_tstate_write(f->json, &sw, f->h, &f->id), 0);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why),
                     VMDB_EVERIFY);

    /* v1. */
    vmdb_tstate v1;
    memset(&v1, 0, sizeof v1);
    v1.committed.h.version = 1;
    v1.committed.h.seq = 3;
    assert_int_equal(vmdb_sheader_sign(&v1.committed, f->h, &f->id, VMDB_SIG_COMMITTED), 0);
    assert_int_equal(vmdb_tstate_write(f->json, &v1, f->h, &f->id), 0);
    raw = (char *)tu_read_file(f->json, &len);
    assert_non_null(strstr(raw, "\"version\": 1"));
    free(raw);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why), 0);
    assert_int_equal(out.committed.h.version, 1);
    assert_memory_equal(out.committed.hash, v1.committed.hash, 32);
    edit_file(f->json, "\"version\": 1,", "");
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why), 0);
    assert_int_equal(vmdb_tstate_write(f->json, &v1, f->h, &f->id), 0);
    edit_file(f->json, "\"version\": 1", "\"version\": 2");
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why),
                     VMDB_EVERIFY);
    assert_int_equal(vmdb_tstate_write(f->json, &v1, f->h, &f->id), 0);
    edit_file(f->json, "\"version\": 1", "\"version\": 3");
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why),
                     VMDB_EVERIFY);

    /* v1 committed, v2 intent: a v2 file. */
    v1.has_intent = true;
    v1.intent.h.version = 2;
    v1.intent.h.kind = VMDB_KIND_UPGRADE;
    v1.intent.h.seq = 4;
    memcpy(v1.intent.h.prev, v1.committed.hash, 32);
    assert_int_equal(vmdb_sheader_sign(&v1.intent, f->h, &f->id, VMDB_SIG_INTENT), 0);
    assert_int_equal(vmdb_tstate_write(f->json, &v1, f->h, &f->id), 0);
    raw = (char *)tu_read_file(f->json, &len);
    assert_non_null(strstr(raw, "\"version\": 2"));
    free(raw);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why), 0);
    assert_int_equal(out.committed.h.version, 1);
    assert_int_equal(out.intent.h.version, 2);
    assert_int_equal(out.intent.h.kind, VMDB_KIND_UPGRADE);
}

/* Opens the journal and checks it is two empty slots, mode 0600. */
static vmdb_tjournal *open_empty(fixture *f)
{
    vmdb_tjournal *j = NULL;
    vmdb_tstate out;
    bool found = true;
    assert_int_equal(vmdb_tjournal_open(&j, f->journal), 0);
    struct stat st;
    assert_int_equal(stat(f->journal, &st), 0);
    assert_int_equal(st.st_size, 8192);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(vmdb_tjournal_newest(j, &out, &found, f->h, f->id.pk), 0);
    assert_false(found);
    return j;
}

static void test_journal_newest_and_torn(void **state)
{
    fixture *f = *state;
    vmdb_tjournal *j = open_empty(f);
    vmdb_tstate out;
    bool found = true;
    for (uint64_t s = 1; s <= 6; s++) {
        vmdb_tstate ts = state_at(f, &f->id, s, true);
        assert_int_equal(vmdb_tjournal_write(j, &ts, f->h, &f->id), 0);
        assert_int_equal(vmdb_tjournal_newest(j, &out, &found, f->h, f->id.pk), 0);
        assert_true(found);
        assert_int_equal(vmdb_tstate_rank(&out), s);
    }
    /* A shorter record (no intent) over a longer one leaves no tail. */
    vmdb_tstate plain = state_at(f, &f->id, 8, false);
    assert_int_equal(vmdb_tjournal_write(j, &plain, f->h, &f->id), 0);
    assert_int_equal(vmdb_tjournal_newest(j, &out, &found, f->h, f->id.pk), 0);
    assert_int_equal(vmdb_tstate_rank(&out), 8);
    assert_false(out.has_intent);
    vmdb_tjournal_free(j);

    /* Reopened: the same answer. Then tear slot 0 (rank 8) in the middle:
     * slot 1 (rank 5) answers. */
    assert_int_equal(vmdb_tjournal_open(&j, f->journal), 0);
    assert_int_equal(vmdb_tjournal_newest(j, &out, &found, f->h, f->id.pk), 0);
    assert_int_equal(vmdb_tstate_rank(&out), 8);
    int fd = open(f->journal, O_WRONLY);
    assert_true(fd >= 0);
    uint8_t junk[300];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, 200), (ssize_t)sizeof junk);
    close(fd);
    assert_int_equal(vmdb_tjournal_newest(j, &out, &found, f->h, f->id.pk), 0);
    assert_true(found);
    assert_int_equal(vmdb_tstate_rank(&out), 5);

    /* A slot written by another key never counts, however high its rank. */
    vmdb_tstate forged = state_at(f, &f->other, 100, true);
    assert_int_equal(vmdb_tjournal_write(j, &forged, f->h, &f->other), 0);
    assert_int_equal(vmdb_tjournal_newest(j, &out, &found, f->h, f->id.pk), 0);
    assert_true(found);
    assert_int_equal(vmdb_tstate_rank(&out), 5);

    /* Reset: nothing left. */
    assert_int_equal(vmdb_tjournal_reset(j), 0);
    assert_int_equal(vmdb_tjournal_newest(j, &out, &found, f->h, f->id.pk), 0);
    assert_false(found);
    vmdb_tjournal_free(j);
    vmdb_tjournal_free(NULL);
}

static void test_journal_wrong_size_recreated(void **state)
{
    fixture *f = *state;
    int fd = open(f->journal, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "short", 5), 5);
    close(fd);
    vmdb_tjournal_free(open_empty(f));
}

/* The file helpers the trust files go through (src/util/file). */
static void test_file_helpers(void **state)
{
    fixture *f = *state;
    char path[160], tmp[170];
    snprintf(path, sizeof path, "%s/f", f->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    vmdb_buf b = VMDB_BUF_INIT;

    assert_int_equal(vmdb_file_read(path, &b, 100), VMDB_ENOTFOUND);
    assert_int_equal(b.len, 0);
    assert_int_equal(vmdb_file_write_atomic(path, "hello", 5, 0600), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_not_equal(access(tmp, F_OK), 0);
    /* The contents are replaced and NUL-terminated; max is inclusive. */
    assert_int_equal(vmdb_buf_put(&b, "xyzxyzxyz", 9), 0);
    assert_int_equal(vmdb_file_read(path, &b, 5), 0);
    assert_int_equal(b.len, 5);
    assert_string_equal((const char *)b.ptr, "hello");
    assert_int_equal(vmdb_file_read(path, &b, 4), VMDB_ELIMIT);
    assert_int_equal(b.len, 0);
    /* out->max applies too (the file plus its NUL). */
    vmdb_buf capped = {NULL, 0, 0, 5};
    assert_int_equal(vmdb_file_read(path, &capped, 100), VMDB_ELIMIT);
    vmdb_buf_free(&capped);
    /* Replaced atomically by a larger file (several reads' worth). */
    size_t big_n = (size_t)300 << 10;
    uint8_t *big = malloc(big_n);
    assert_non_null(big);
    tu_rng r = {3};
    tu_fill(&r, big, big_n);
    assert_int_equal(vmdb_file_write_atomic(path, big, big_n, 0600), 0);
    assert_int_equal(vmdb_file_read(path, &b, big_n), 0);
    assert_int_equal(b.len, big_n);
    assert_memory_equal(b.ptr, big, big_n);
    assert_int_equal(b.ptr[big_n], 0);
    assert_int_equal(vmdb_file_read(path, &b, big_n - 1), VMDB_ELIMIT);
    free(big);
    /* Empty, with a cap of 0. */
    assert_int_equal(vmdb_file_write_atomic(path, "", 0, 0600), 0);
    assert_int_equal(vmdb_file_read(path, &b, 0), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.ptr[0], 0);
    /* Not regular files: their size is unknown, the cap still holds. */
    assert_int_equal(vmdb_file_read("/dev/null", &b, 10), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(vmdb_file_read("/dev/zero", &b, 100), VMDB_ELIMIT);
    assert_int_equal(vmdb_file_read(f->dir, &b, 100), VMDB_EIO);
    /* Where the temp file cannot be made: nothing is written. */
    char nodir[200];
    snprintf(nodir, sizeof nodir, "%s/missing/f", f->dir);
    assert_int_equal(vmdb_file_write_atomic(nodir, "x", 1, 0600), VMDB_EIO);
    vmdb_buf_free(&b);
    unlink(path);

    /* The trusted state file: too large is malformed; unreadable says why. */
    char why[200] = "";
    vmdb_tstate out;
    static uint8_t pad[16384];
    memset(pad, ' ', sizeof pad);
    assert_int_equal(vmdb_file_write_atomic(f->json, pad, sizeof pad, 0600), 0);
    assert_int_equal(vmdb_tstate_read(f->json, &out, f->h, f->id.pk, why, sizeof why),
                     VMDB_EVERIFY);
    assert_non_null(strstr(why, "not valid JSON"));
    why[0] = '\0';
    assert_int_equal(vmdb_tstate_read(f->dir, &out, f->h, f->id.pk, why, sizeof why), VMDB_EIO);
    assert_non_null(strstr(why, f->dir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_newest_and_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_wrong_size_recreated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_helpers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
