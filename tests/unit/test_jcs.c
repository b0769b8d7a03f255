/*
 * JSON parsing and JCS edge cases that the shared vectors cannot carry
 * (invalid UTF-8 cannot live in a JSON vector file) or that concern vmdb's
 * own limits: error codes, caps, the buffer left unchanged on error, and
 * the accessors the rest of vmdb reads documents with.
 */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmdb/json.h"
#include "vmdb/rowhash.h"

static int canon(const char *in, size_t len, vmdb_buf *out)
{
    out->len = 0;
    return vmdb_jcs_canonicalize(out, (vmdb_slice){(const uint8_t *)in, len}, NULL);
}

static void expect(const char *in, const char *want)
{
    vmdb_buf b = VMDB_BUF_INIT;
    int rc = canon(in, strlen(in), &b);
    if (rc != 0)
        fail_msg("%s: %s", in, vmdb_error_last());
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    vmdb_buf_free(&b);
}

static void expect_err(const char *in, size_t len, int code)
{
    vmdb_buf b = VMDB_BUF_INIT;
    int rc = canon(in, len, &b);
    if (rc != code)
        fail_msg("input %.*s gave %s, wanted %s", (int)len, in, vmdb_error_name(rc),
                 vmdb_error_name(code));
    vmdb_buf_free(&b);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\"\x80\"",             /* lone continuation byte */
        "\"\xC0\xAF\"",         /* overlong '/' */
        "\"\xC1\xBF\"",         /* overlong */
        "\"\xE0\x80\xAF\"",     /* overlong 3-byte */
        "\"\xED\xA0\x80\"",     /* UTF-8 encoded surrogate U+D800 */
        "\"\xF4\x90\x80\x80\"", /* above U+10FFFF */
        "\"\xF5\x80\x80\x80\"", /* invalid lead */
        "\"\xE2\x82\"",         /* truncated */
        "\"\xFF\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_err(bad[i], strlen(bad[i]), VMDB_EPARSE);
    /* The same bytes as a key. */
    expect_err("{\"\xC0\xAF\":1}", 8, VMDB_EPARSE);
    /* Valid multi-byte characters pass through unchanged. */
    expect("\"\xC3\xB6\xE2\x82\xAC\xF0\x9F\x98\x80\"", "\"\xC3\xB6\xE2\x82\xAC\xF0\x9F\x98\x80\"");
}

static void test_escapes_and_nul(void **state)
{
    (void)state;
    expect("\"\\u0000\"", "\"\\u0000\"");
    expect("\"a\\u0000b\"", "\"a\\u0000b\"");
    expect("\"\\u001f\\u007f\\u2028\\u2029\"", "\"\\u001f\x7f\xE2\x80\xA8\xE2\x80\xA9\"");
    expect("\"\\b\\f\\n\\r\\t\\\"\\\\\\/\"", "\"\\b\\f\\n\\r\\t\\\"\\\\/\"");
    expect("{\"a\\u0000\":1,\"a\":2}", "{\"a\":2,\"a\\u0000\":1}");
    expect_err("\"\\x41\"", 6, VMDB_EPARSE);
    expect_err("\"\\u12\"", 6, VMDB_EPARSE);
    expect_err("\"\\ud800\\u0041\"", 14, VMDB_EPARSE);
    expect_err("\"\\udc00\"", 8, VMDB_EPARSE);
    expect_err("\"tab\there\"", 10, VMDB_EPARSE);
}

static void test_numbers(void **state)
{
    (void)state;
    expect("[0,-0,-0.0,0e5,1.0,1.50,1e2,1E+2,100e-2]", "[0,0,0,0,1,1.5,100,100,1]");
    expect("[9007199254740991,-9007199254740991,9007199254740992]",
           "[9007199254740991,-9007199254740991,9007199254740992]");
    expect("[1e21,1e-7,1.5e-7,123456789012345680000]", "[1e+21,1e-7,1.5e-7,123456789012345680000]");
    expect("[5e-324,1.7976931348623157e308,0.1,0.30000000000000004]",
           "[5e-324,1.7976931348623157e+308,0.1,0.30000000000000004]");
    expect_err("9007199254740993", 16, VMDB_ERANGE);
    expect_err("-9223372036854775808", 20, VMDB_ERANGE);
    expect_err("0.30000000000000000001", 22, VMDB_ERANGE);
    expect_err("1e400", 5, VMDB_ERANGE);
    expect_err("1e-400", 6, VMDB_ERANGE);
    expect_err("01", 2, VMDB_EPARSE);
    expect_err("1.", 2, VMDB_EPARSE);
    expect_err(".5", 2, VMDB_EPARSE);
    expect_err("+1", 2, VMDB_EPARSE);
    expect_err("1e", 2, VMDB_EPARSE);
    expect_err("-", 1, VMDB_EPARSE);
    expect_err("NaN", 3, VMDB_EPARSE);
    expect_err("Infinity", 8, VMDB_EPARSE);
    /* A literal longer than the cap is refused, not truncated. */
    char *big = malloc(2000);
    big[0] = '1';
    memset(big + 1, '0', 1999);
    expect_err(big, 2000, VMDB_ELIMIT);
    free(big);

    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_jcs_number(&b, 1.0 / 0.0), VMDB_EINVAL);
    assert_int_equal(b.len, 0);
    vmdb_buf_free(&b);
}

static void test_structure(void **state)
{
    (void)state;
    expect(" \t\n\r{ \"b\" : [ 1 , { } , [ ] ] , \"a\" : null } \n",
           "{\"a\":null,\"b\":[1,{},[]]}");
    expect("true", "true");
    expect("\"\"", "\"\"");
    expect_err("", 0, VMDB_EPARSE);
    expect_err("{\"a\":1,\"a\":1}", 13, VMDB_EPARSE);
    expect_err("{\"a\":1,\"\\u0061\":2}", 18, VMDB_EPARSE);
    expect_err("[1,]", 4, VMDB_EPARSE);
    expect_err("{\"a\":1,}", 8, VMDB_EPARSE);
    expect_err("{'a':1}", 7, VMDB_EPARSE);
    expect_err("[1] x", 5, VMDB_EPARSE);
    expect_err("\xEF\xBB\xBF{}", 5, VMDB_EPARSE); /* byte order mark */
    expect_err("nul", 3, VMDB_EPARSE);
    expect_err("{\"a\"}", 5, VMDB_EPARSE);
    expect_err("{1:2}", 5, VMDB_EPARSE);
}

static void test_limits(void **state)
{
    (void)state;
    /* 128 nested arrays pass, 129 do not. */
    char deep[300];
    memset(deep, '[', 129);
    memset(deep + 129, ']', 129);
    expect_err(deep, 258, VMDB_ELIMIT);
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(canon(deep + 1, 256, &b), 0);
    vmdb_buf_free(&b);

    vmdb_json_limits lim = {16, 4};
    vmdb_json_doc *doc = NULL;
    assert_int_equal(vmdb_json_parse(&doc, VMDB_SLICE_STR("[1,2,3,4,5,6,7,8,9]"), &lim),
                     VMDB_ELIMIT);
    assert_int_equal(vmdb_json_parse(&doc, VMDB_SLICE_STR("[[[[[1]]]]]"), &lim), VMDB_ELIMIT);
    assert_int_equal(vmdb_json_parse(&doc, VMDB_SLICE_STR("[[[[1]]]]"), &lim), 0);
    vmdb_json_doc_free(doc);

    /* An output cap: the buffer is left as it was. */
    vmdb_buf capped = {NULL, 0, 0, 8};
    assert_int_equal(vmdb_buf_put(&capped, "abc", 3), 0);
    assert_int_equal(vmdb_jcs_canonicalize(&capped, VMDB_SLICE_STR("{\"long\":\"value\"}"), NULL),
                     VMDB_ELIMIT);
    assert_int_equal(capped.len, 3);
    vmdb_buf_free(&capped);
    vmdb_json_doc_free(NULL);
    vmdb_buf_free(NULL);
}

static void test_accessors(void **state)
{
    (void)state;
    vmdb_json_doc *doc = NULL;
    assert_int_equal(
        vmdb_json_parse(&doc, VMDB_SLICE_STR("{\"z\":[1,\"s\",true],\"a\":{\"n\":-2.5}}"), NULL),
        0);
    const vmdb_json *root = vmdb_json_doc_root(doc);
    assert_int_equal(vmdb_json_typeof(root), VMDB_JSON_OBJECT);
    assert_int_equal(vmdb_json_size(root), 2);
    vmdb_slice k0 = vmdb_json_key_at(root, 0);
    assert_int_equal(k0.len, 1);
    assert_memory_equal(k0.ptr, "a", 1);
    const vmdb_json *z = vmdb_json_get(root, "z");
    assert_int_equal(vmdb_json_size(z), 3);
    assert_true(vmdb_json_number(vmdb_json_at(z, 0)) == 1.0);
    vmdb_slice s = vmdb_json_string(vmdb_json_at(z, 1));
    assert_int_equal(s.len, 1);
    assert_int_equal(vmdb_json_typeof(vmdb_json_at(z, 2)), VMDB_JSON_TRUE);
    assert_null(vmdb_json_at(z, 3));
    assert_true(vmdb_json_number(vmdb_json_get(vmdb_json_get(root, "a"), "n")) == -2.5);
    assert_null(vmdb_json_get(root, "missing"));
    assert_null(vmdb_json_get(z, "z"));
    vmdb_json_doc_free(doc);
}

static void test_row_value(void **state)
{
    (void)state;
    vmdb_hasher *h = NULL;
    vmdb_buf scratch = VMDB_BUF_INIT;
    uint8_t a[32], b[32];
    assert_int_equal(vmdb_hasher_new(&h, 0), 0);
    /* Member order and number spelling do not change the value. */
    assert_int_equal(vmdb_row_value(h, a, VMDB_SLICE_STR("{\"id\":1,\"x\":1.50}"), NULL, &scratch),
                     0);
    assert_int_equal(
        vmdb_row_value(h, b, VMDB_SLICE_STR("{ \"x\":1.5, \"id\":1e0 }"), NULL, &scratch), 0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(scratch.len, strlen("{\"id\":1,\"x\":1.5}"));
    /* A row must be an object. */
    assert_int_equal(vmdb_row_value(h, a, VMDB_SLICE_STR("[1]"), NULL, &scratch), VMDB_EINVAL);
    /* Key encoding is injective across the table/pk boundary. */
    assert_int_equal(vmdb_row_key(h, a, VMDB_SLICE_STR("ab"), VMDB_SLICE_STR("c")), 0);
    assert_int_equal(vmdb_row_key(h, b, VMDB_SLICE_STR("a"), VMDB_SLICE_STR("bc")), 0);
    assert_memory_not_equal(a, b, 32);
    char *longname = calloc(70000, 1);
    assert_int_equal(
        vmdb_row_key(h, a, (vmdb_slice){(uint8_t *)longname, 70000}, VMDB_SLICE_STR("1")),
        VMDB_EINVAL);
    free(longname);
    vmdb_buf_free(&scratch);
    vmdb_hasher_free(h);
}

/* One json/jsonb column's form (PROTOCOL.md §2.2): the value when safe,
 * else {"$jsonb": T}. */
static void expect_column(const char *text, const char *want, bool wrapped)
{
    vmdb_buf b = VMDB_BUF_INIT;
    bool w = !wrapped;
    int rc = vmdb_row_json_column(&b, VMDB_SLICE(text, strlen(text)), &w);
    if (rc != 0)
        fail_msg("%s: %s", text, vmdb_error_name(rc));
    if (b.len != strlen(want) || memcmp(b.ptr, want, b.len) != 0)
        fail_msg("%s gave %.*s, wanted %s", text, (int)b.len, (const char *)b.ptr, want);
    assert_int_equal(w, wrapped);
    vmdb_buf_free(&b);
}

static void test_json_column(void **state)
{
    (void)state;
    /* Safe values nest, in JCS form. */
    expect_column("{\"b\": 1.50, \"a\": [1, 2e0]}", "{\"a\":[1,2],\"b\":1.5}", false);
    expect_column("9007199254740992", "9007199254740992", false);
    expect_column("\"x\"", "\"x\"", false);
    expect_column("null", "null", false);
    expect_column("{}", "{}", false);
    expect_column("{\"$jsonb\": 1, \"b\": 2}", "{\"$jsonb\":1,\"b\":2}", false); /* two members */
    expect_column("[{\"$jsonb\": \"x\"}]", "[{\"$jsonb\":\"x\"}]", false); /* not at the top */
    expect_column("{\"$jsonb2\": \"x\"}", "{\"$jsonb2\":\"x\"}", false);
    /* Unsafe values: wrapped, the text kept byte for byte. */
    expect_column("{\"n\": 9007199254740993}", "{\"$jsonb\":\"{\\\"n\\\": 9007199254740993}\"}",
                  true);
    expect_column("{\"$jsonb\": \"x\"}", "{\"$jsonb\":\"{\\\"$jsonb\\\": \\\"x\\\"}\"}", true);
    expect_column("{\"$jsonb\":{}}", "{\"$jsonb\":\"{\\\"$jsonb\\\":{}}\"}", true);
    expect_column("{\"a\":1,\"a\":2}", "{\"$jsonb\":\"{\\\"a\\\":1,\\\"a\\\":2}\"}", true);
    expect_column("\"\\ud800\"", "{\"$jsonb\":\"\\\"\\\\ud800\\\"\"}", true);
    expect_column("1e400", "{\"$jsonb\":\"1e400\"}", true);
    /* 127 levels nest; 128 would take the row past §2.1's 128: wrapped. */
    char deep[260];
    memset(deep, '[', 128);
    memset(deep + 128, ']', 128);
    deep[256] = 0;
    vmdb_buf b = VMDB_BUF_INIT;
    bool w = false;
    assert_int_equal(vmdb_row_json_column(&b, VMDB_SLICE(deep + 1, 254), &w), 0);
    assert_false(w);
    b.len = 0;
    assert_int_equal(vmdb_row_json_column(&b, VMDB_SLICE(deep, 256), &w), 0);
    assert_true(w);
    /* Text that is not UTF-8 cannot even be wrapped; the buffer is unchanged. */
    b.len = 0;
    assert_int_equal(vmdb_buf_put(&b, "ab", 2), 0);
    assert_int_equal(vmdb_row_json_column(&b, VMDB_SLICE("\"\xff\"", 3), &w), VMDB_EPARSE);
    assert_int_equal(b.len, 2);
    vmdb_buf_free(&b);
}

static void test_row_value_cols(void **state)
{
    (void)state;
    vmdb_hasher *h = NULL;
    vmdb_buf scratch = VMDB_BUF_INIT, plain = VMDB_BUF_INIT;
    uint8_t a[32], b[32];
    static const char *const cols[] = {"j", "k"};
    assert_int_equal(vmdb_hasher_new(&h, 0), 0);
    /* j and k arrive as their texts; other strings stay strings. */
    const char *row = "{\"z\":\"{\\\"a\\\":1}\",\"k\":\"{\\\"$jsonb\\\":\\\"x\\\"}\",\"id\":1,"
                      "\"j\":\"{\\\"b\\\": 1.50}\",\"n\":null}";
    assert_int_equal(
        vmdb_row_value_cols(h, a, VMDB_SLICE(row, strlen(row)), cols, 2, NULL, &scratch), 0);
    const char *want =
        "{\"id\":1,\"j\":{\"b\":1.5},\"k\":{\"$jsonb\":\"{\\\"$jsonb\\\":\\\"x\\\"}\"},"
        "\"n\":null,\"z\":\"{\\\"a\\\":1}\"}";
    assert_int_equal(scratch.len, strlen(want));
    assert_memory_equal(scratch.ptr, want, scratch.len);
    /* The hash is that of the substituted row's JCS. */
    assert_int_equal(vmdb_row_value(h, b, VMDB_SLICE(want, strlen(want)), NULL, &plain), 0);
    assert_memory_equal(a, b, 32);
    /* SQL NULL in a JSON column stays null; no JSON columns: as vmdb_row_value. */
    assert_int_equal(vmdb_row_value_cols(h, a, VMDB_SLICE_STR("{\"j\":null,\"x\":1.50}"), cols, 2,
                                         NULL, &scratch),
                     0);
    assert_int_equal(vmdb_row_value(h, b, VMDB_SLICE_STR("{\"j\":null,\"x\":1.5}"), NULL, &plain),
                     0);
    assert_memory_equal(a, b, 32);
    assert_int_equal(vmdb_row_value_cols(h, a, VMDB_SLICE_STR("[1]"), cols, 2, NULL, &scratch),
                     VMDB_EINVAL);
    assert_int_equal(scratch.len, 0);
    vmdb_buf_free(&scratch);
    vmdb_buf_free(&plain);
    vmdb_hasher_free(h);
}

/* The id-range leaf of PROTOCOL.md §10. The expected values were computed
 * apart from this code, with node:crypto:
 *   H("vmdb/v2/id-range-key" 00 0006 "agents"), H("vmdb/v2/id-range" 00
 *   00000001 "1" 00000002 "57") and the same with lo "15", hi "7". */
static void test_range_leaf(void **state)
{
    (void)state;
    vmdb_hasher *h = NULL;
    uint8_t got[32], want[32], row[32];
    assert_int_equal(vmdb_hasher_new(&h, 0), 0);
    assert_int_equal(vmdb_range_key(h, got, VMDB_SLICE_STR("agents")), 0);
    tu_unhex32(want, "dc4b5b42636623d40e2fb718a347d55d836093b9014a465cdeeadc479741773d", 64);
    assert_memory_equal(got, want, 32);
    /* Never a row's key: not even the row whose key text is empty. */
    assert_int_equal(vmdb_row_key(h, row, VMDB_SLICE_STR("agents"), VMDB_SLICE_STR("")), 0);
    assert_memory_not_equal(got, row, 32);
    assert_int_equal(vmdb_range_value(h, got, VMDB_SLICE_STR("1"), VMDB_SLICE_STR("57")), 0);
    tu_unhex32(want, "09ae667c3e21c32e4cbc4abfb44fae27f35af6e72c7875fd6f20fe3b41e132b5", 64);
    assert_memory_equal(got, want, 32);
    /* The length prefixes keep ("15", "7") apart from ("1", "57"). */
    assert_int_equal(vmdb_range_value(h, got, VMDB_SLICE_STR("15"), VMDB_SLICE_STR("7")), 0);
    tu_unhex32(want, "92322df0fed9d42c3ddbe80da244a91220c2fa1c4a82d3c547466e3fadfc1952", 64);
    assert_memory_equal(got, want, 32);
    char *longname = calloc(70000, 1);
    assert_int_equal(vmdb_range_key(h, got, (vmdb_slice){(uint8_t *)longname, 70000}), VMDB_EINVAL);
    free(longname);
    vmdb_hasher_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_utf8),   cmocka_unit_test(test_escapes_and_nul),
        cmocka_unit_test(test_numbers),        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_row_value),      cmocka_unit_test(test_json_column),
        cmocka_unit_test(test_row_value_cols), cmocka_unit_test(test_range_leaf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
