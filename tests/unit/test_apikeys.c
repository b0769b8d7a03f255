/*
 * API keys (src/trust/apikeys): the key text and its parse (length, prefix,
 * id alphabet, canonical base64url of 32 bytes), the stored hash and the
 * check (right key, wrong secret, unknown id, revoked), table scopes, and
 * the signed keys file: round trip, refusal of an added, widened or
 * re-scoped key, of another identity's signature, and of malformed files.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "trust/apikeys.h"
#include "util/file.h"
#include "util/sb.h"
#include "vmdb/header.h"

static void test_parse(void **state)
{
    (void)state;
    char id[9], text[VMDB_APIKEY_LEN + 1];
    uint8_t h[32], secret[32], want[32];
    memset(secret, 7, sizeof secret);
    memcpy(text, "vmdb_0123abcd_", 14);
    sodium_bin2base64(text + 14, 44, secret, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(strlen(text), VMDB_APIKEY_LEN);
    assert_int_equal(vmdb_apikey_parse(id, h, text, strlen(text)), 0);
    assert_string_equal(id, "0123abcd");
    crypto_hash_sha256(want, secret, 32);
    assert_memory_equal(h, want, 32);

    char bad[VMDB_APIKEY_LEN + 2];
    /* wrong length, prefix, separator, id alphabet, secret alphabet */
    assert_int_equal(vmdb_apikey_parse(id, h, text, strlen(text) - 1), VMDB_EINVAL);
    assert_int_equal(vmdb_apikey_parse(id, h, "", 0), VMDB_EINVAL);
    memcpy(bad, text, sizeof text);
    bad[0] = 'V';
    assert_int_equal(vmdb_apikey_parse(id, h, bad, strlen(bad)), VMDB_EINVAL);
    memcpy(bad, text, sizeof text);
    bad[13] = '-';
    assert_int_equal(vmdb_apikey_parse(id, h, bad, strlen(bad)), VMDB_EINVAL);
    memcpy(bad, text, sizeof text);
    bad[6] = 'G';
    assert_int_equal(vmdb_apikey_parse(id, h, bad, strlen(bad)), VMDB_EINVAL);
    memcpy(bad, text, sizeof text);
    bad[6] = 'A'; /* upper-case hex is not the id's form */
    assert_int_equal(vmdb_apikey_parse(id, h, bad, strlen(bad)), VMDB_EINVAL);
    memcpy(bad, text, sizeof text);
    bad[20] = '+'; /* standard base64, not base64url */
    assert_int_equal(vmdb_apikey_parse(id, h, bad, strlen(bad)), VMDB_EINVAL);
    memcpy(bad, text, sizeof text);
    bad[20] = '=';
    assert_int_equal(vmdb_apikey_parse(id, h, bad, strlen(bad)), VMDB_EINVAL);
    /* The last character carries 4 unused bits: only one text per key. */
    memcpy(bad, text, sizeof text);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t at = (size_t)(strchr(alpha, bad[VMDB_APIKEY_LEN - 1]) - alpha);
    bad[VMDB_APIKEY_LEN - 1] = alpha[at ^ 1];
    assert_int_equal(vmdb_apikey_parse(id, h, bad, strlen(bad)), VMDB_EINVAL);
}

static void test_roles(void **state)
{
    (void)state;
    assert_int_equal(vmdb_role_parse("read"), VMDB_ROLE_READ);
    assert_int_equal(vmdb_role_parse("write"), VMDB_ROLE_WRITE);
    assert_int_equal(vmdb_role_parse("admin"), VMDB_ROLE_ADMIN);
    assert_int_equal(vmdb_role_parse("Admin"), VMDB_ROLE_NONE);
    assert_int_equal(vmdb_role_parse("none"), VMDB_ROLE_NONE);
    assert_int_equal(vmdb_role_parse(NULL), VMDB_ROLE_NONE);
    assert_string_equal(vmdb_role_name(VMDB_ROLE_WRITE), "write");
    assert_true(VMDB_ROLE_ADMIN > VMDB_ROLE_WRITE && VMDB_ROLE_WRITE > VMDB_ROLE_READ);
}

static void test_add_check_revoke(void **state)
{
    (void)state;
    vmdb_apikeys set = {NULL, 0};
    char a[VMDB_APIKEY_LEN + 1], b[VMDB_APIKEY_LEN + 1];
    const char *tables[] = {"Notes", "other_2"};
    assert_int_equal(vmdb_apikeys_add(&set, a, VMDB_ROLE_ADMIN, NULL, 0, "ops", 1), 0);
    assert_int_equal(vmdb_apikeys_add(&set, b, VMDB_ROLE_WRITE, tables, 2, NULL, 2), 0);
    assert_int_equal(strlen(a), VMDB_APIKEY_LEN);
    assert_int_equal(set.n, 2);
    const vmdb_apikey *k = vmdb_apikeys_check(&set, a, strlen(a));
    assert_non_null(k);
    assert_int_equal(k->role, VMDB_ROLE_ADMIN);
    assert_true(vmdb_apikey_allows_table(k, "anything"));
    k = vmdb_apikeys_check(&set, b, strlen(b));
    assert_non_null(k);
    assert_true(vmdb_apikey_allows_table(k, "notes")); /* lower-cased when made */
    assert_true(vmdb_apikey_allows_table(k, "other_2"));
    assert_false(vmdb_apikey_allows_table(k, "Notes"));
    assert_false(vmdb_apikey_allows_table(k, "x"));
    /* The right id with another secret, and an unknown id. */
    char c[VMDB_APIKEY_LEN + 1];
    memcpy(c, a, sizeof c);
    c[20] = c[20] == 'A' ? 'B' : 'A';
    assert_null(vmdb_apikeys_check(&set, c, strlen(c)));
    memcpy(c, a, sizeof c);
    memcpy(c + 5, b + 5, 8);
    assert_null(vmdb_apikeys_check(&set, c, strlen(c)));
    memcpy(c, a, sizeof c);
    memcpy(c + 5, "00000000", 8);
    assert_null(vmdb_apikeys_check(&set, c, strlen(c)));
    /* Refused additions. */
    char d[VMDB_APIKEY_LEN + 1];
    const char *badt[] = {"1abc"};
    assert_int_equal(vmdb_apikeys_add(&set, d, VMDB_ROLE_ADMIN, tables, 1, NULL, 3), VMDB_EINVAL);
    assert_int_equal(vmdb_apikeys_add(&set, d, VMDB_ROLE_READ, badt, 1, NULL, 3), VMDB_EINVAL);
    assert_int_equal(vmdb_apikeys_add(&set, d, VMDB_ROLE_NONE, NULL, 0, NULL, 3), VMDB_EINVAL);
    assert_int_equal(set.n, 2);
    /* Revoked: no longer accepted; the other still is. */
    char id[9];
    memcpy(id, a + 5, 8);
    id[8] = 0;
    assert_int_equal(vmdb_apikeys_revoke(&set, id), 0);
    assert_int_equal(vmdb_apikeys_revoke(&set, id), VMDB_ENOTFOUND);
    assert_null(vmdb_apikeys_check(&set, a, strlen(a)));
    assert_non_null(vmdb_apikeys_check(&set, b, strlen(b)));
    vmdb_apikeys_free(&set);
    vmdb_apikeys_free(NULL);
}

/* Re-signs nothing: replaces `from` by `to` in the text and expects a refusal. */
static void expect_refused(const vmdb_buf *text, const char *from, const char *to,
                           const uint8_t pk[32], int want)
{
    const char *p = strstr((const char *)text->ptr, from);
    assert_non_null(p);
    vmdb_buf e = VMDB_BUF_INIT;
    size_t at = (size_t)(p - (const char *)text->ptr);
    assert_int_equal(vmdb_buf_put(&e, text->ptr, at), 0);
    assert_int_equal(vmdb_sb_puts(&e, to), 0);
    assert_int_equal(vmdb_sb_puts(&e, p + strlen(from)), 0);
    vmdb_apikeys out = {NULL, 0};
    assert_int_equal(vmdb_apikeys_parse(&out, VMDB_SLICE(e.ptr, e.len), pk), want);
    assert_int_equal(out.n, 0);
    vmdb_buf_free(&e);
}

static void test_file(void **state)
{
    (void)state;
    vmdb_identity id, other;
    tu_make_identity(&id, 1);
    tu_make_identity(&other, 50);
    vmdb_apikeys set = {NULL, 0}, back = {NULL, 0};
    char a[VMDB_APIKEY_LEN + 1], b[VMDB_APIKEY_LEN + 1];
    const char *tables[] = {"notes"};
    assert_int_equal(vmdb_apikeys_add(&set, a, VMDB_ROLE_READ, tables, 1, "note \"q\" é", 5), 0);
    assert_int_equal(vmdb_apikeys_add(&set, b, VMDB_ROLE_WRITE, NULL, 0, NULL, 6), 0);
    vmdb_buf text = VMDB_BUF_INIT;
    assert_int_equal(vmdb_apikeys_format(&text, &set, &id), 0);
    assert_int_equal(vmdb_buf_putc(&text, 0), 0);
    text.len--;
    /* Round trip. */
    assert_int_equal(vmdb_apikeys_parse(&back, VMDB_SLICE(text.ptr, text.len), id.pk), 0);
    assert_int_equal(back.n, 2);
    assert_string_equal(back.v[0].note, "note \"q\" é");
    assert_int_equal(back.v[0].ntables, 1);
    assert_null(back.v[1].tables);
    assert_int_equal(back.v[1].created_ms, 6);
    assert_non_null(vmdb_apikeys_check(&back, a, strlen(a)));
    assert_non_null(vmdb_apikeys_check(&back, b, strlen(b)));
    vmdb_apikeys_free(&back);
    /* Another identity's key does not verify it. */
    assert_int_equal(vmdb_apikeys_parse(&back, VMDB_SLICE(text.ptr, text.len), other.pk),
                     VMDB_EVERIFY);
    /* Edits: a role widened, a scope removed, a note changed, a key dropped. */
    expect_refused(&text, "\"role\":\"read\"", "\"role\":\"admin\"", id.pk, VMDB_EVERIFY);
    expect_refused(&text, "\"tables\":[\"notes\"]", "\"tables\":null", id.pk, VMDB_EVERIFY);
    expect_refused(&text, "\"created_ms\":5", "\"created_ms\":7", id.pk, VMDB_EVERIFY);
    expect_refused(&text, "\"keys\":[", "\"keys\":[{\"created_ms\":1,\"hash\":\"00\"},", id.pk,
                   VMDB_EVERIFY);
    expect_refused(&text, "\"version\":1", "\"version\":2", id.pk, VMDB_EINVAL);
    expect_refused(&text, "\"file_sig\":\"", "\"file_sig\":\"0", id.pk, VMDB_EINVAL);
    assert_int_equal(vmdb_apikeys_parse(&back, VMDB_SLICE("[]", 2), id.pk), VMDB_EINVAL);
    assert_int_equal(vmdb_apikeys_parse(&back, VMDB_SLICE("{", 1), id.pk), VMDB_EINVAL);
    /* A key added and re-signed by the right identity is accepted: the
     * signature is what makes a key. An empty set signs too. */
    vmdb_apikeys empty = {NULL, 0};
    vmdb_buf e = VMDB_BUF_INIT;
    assert_int_equal(vmdb_apikeys_format(&e, &empty, &id), 0);
    assert_int_equal(vmdb_apikeys_parse(&back, VMDB_SLICE(e.ptr, e.len), id.pk), 0);
    assert_int_equal(back.n, 0);
    vmdb_buf_free(&e);
    /* Save and load: mode 0600. */
    char dir[] = "/tmp/vmdb-apikeys-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/api_keys.json", dir);
    assert_int_equal(vmdb_apikeys_load(&back, path, id.pk), VMDB_ENOTFOUND);
    assert_int_equal(vmdb_apikeys_save(path, &set, &id), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(vmdb_apikeys_load(&back, path, id.pk), 0);
    assert_int_equal(back.n, 2);
    vmdb_apikeys_free(&back);
    unlink(path);
    rmdir(dir);
    vmdb_buf_free(&text);
    vmdb_apikeys_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_add_check_revoke),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
