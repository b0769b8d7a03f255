/*
 * Coercion of client values (src/store/coerce.h): every rule of
 * seed-behaviour.md §3.1 as vmdb applies it, with the differences that
 * docs/COMPATIBILITY.md lists (null is SQL NULL for every type, uuids are
 * validated and lower-cased, jsonb keeps the value as given in RFC 8785 form,
 * text gets non-strings as their compact JSON text), the canonical key text
 * of vmdb_coerce_key, and vmdb_coerce_records: the FieldError list (§3.3)
 * checked member by member after parsing it as the API sends it, unknown
 * keys, non-object records, missing upsert keys, sorted values and pk_text.
 *
 * JSON inputs are written with single quotes; q() turns them into double
 * quotes before parsing (no input here needs a literal ').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/coerce.h"
#include "server/render.h"
#include "store/model.h"
#include "testutil.h"
#include "util/arena.h"
#include "util/sb.h"
#include "vmdb/json.h"

static vmdb_arena arena = VMDB_ARENA_INIT;

static int teardown(void **state)
{
    (void)state;
    vmdb_arena_free(&arena);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static char *q(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t i = 0; i <= n; i++)
        p[i] = s[i] == '\'' ? '"' : s[i];
    return p;
}

static vmdb_json_doc *parse_raw(const char *text, size_t len)
{
    vmdb_json_doc *d = NULL;
    int rc = vmdb_json_parse(&d, VMDB_SLICE(text, len), NULL);
    if (rc != 0)
        fail_msg("test JSON does not parse (%s): %.200s", vmdb_error_name(rc), text);
    return d;
}

static vmdb_json_doc *parse_q(const char *single_quoted)
{
    char *s = q(single_quoted);
    vmdb_json_doc *d = parse_raw(s, strlen(s));
    free(s);
    return d;
}

static int coerce(vmdb_ctype t, const char *json, const char **out, const char **got)
{
    vmdb_json_doc *d = parse_q(json);
    *out = (const char *)&d; /* must be overwritten */
    *got = NULL;
    int rc = vmdb_coerce_value(&arena, t, vmdb_json_doc_root(d), out, got);
    vmdb_json_doc_free(d);
    return rc;
}

/* `json` coerces to `want` (NULL: SQL NULL). */
static void ok(vmdb_ctype t, const char *json, const char *want)
{
    const char *out, *got;
    int rc = coerce(t, json, &out, &got);
    if (rc != 0)
        fail_msg("%s: %s rejected (rc %d, got %s)", vmdb_ctype_name(t), json, rc, got ? got : "?");
    if (want == NULL) {
        if (out != NULL)
            fail_msg("%s: %s gave '%s', wanted SQL NULL", vmdb_ctype_name(t), json, out);
        assert_string_equal(got, "null");
        return;
    }
    if (out == NULL)
        fail_msg("%s: %s gave SQL NULL, wanted '%s'", vmdb_ctype_name(t), json, want);
    if (strcmp(out, want) != 0)
        fail_msg("%s: %s gave '%s', wanted '%s'", vmdb_ctype_name(t), json, out, want);
}

/* `json` is refused; `got` names its JSON type. */
static void bad(vmdb_ctype t, const char *json, const char *want_got)
{
    const char *out, *got;
    int rc = coerce(t, json, &out, &got);
    if (rc != VMDB_EINVAL)
        fail_msg("%s: %s accepted as '%s', wanted a refusal", vmdb_ctype_name(t), json,
                 rc == 0 && out ? out : "(null)");
    assert_non_null(got);
    if (strcmp(got, want_got) != 0)
        fail_msg("%s: %s refused with got '%s', wanted '%s'", vmdb_ctype_name(t), json, got,
                 want_got);
}

static const char *key_ok(vmdb_ctype t, const char *s, size_t n)
{
    const char *out = NULL;
    int rc = vmdb_coerce_key(&arena, t, s, n, &out);
    if (rc != 0)
        fail_msg("key %s '%.*s' refused (rc %d)", vmdb_ctype_name(t), (int)n, s, rc);
    assert_non_null(out);
    return out;
}

static void key_bad(vmdb_ctype t, const char *s, size_t n)
{
    const char *out = NULL;
    if (vmdb_coerce_key(&arena, t, s, n, &out) != VMDB_EINVAL)
        fail_msg("key %s '%.*s' accepted as '%s'", vmdb_ctype_name(t), (int)n, s, out ? out : "");
}

/* ---- vmdb_coerce_value, per type (§3.1) ----------------------------------- */

static void test_int(void **state)
{
    (void)state;
    const vmdb_ctype T = VMDB_T_INT;
    ok(T, "1440", "1440");
    ok(T, "'1440'", "1440");
    ok(T, "'+5'", "5");
    ok(T, "'-5'", "-5");
    ok(T, "'-0'", "0");
    ok(T, "-0", "0");
    ok(T, "0", "0");
    ok(T, "'007'", "7");
    ok(T, "'-007'", "-7");
    ok(T, "'00000000000000000000000000000001'", "1");
    ok(T, "2147483647", "2147483647");
    ok(T, "'2147483647'", "2147483647");
    ok(T, "-2147483648", "-2147483648");
    ok(T, "'-2147483648'", "-2147483648");
    ok(T, "null", NULL);
    /* fractions, exponents, out of range */
    bad(T, "1.0", "number");
    bad(T, "1.5", "number");
    bad(T, "-0.0", "number");
    bad(T, "1e3", "number");
    bad(T, "1E0", "number");
    bad(T, "2147483648", "number");
    bad(T, "'2147483648'", "string");
    bad(T, "-2147483649", "number");
    bad(T, "'-2147483649'", "string");
    bad(T, "9223372036854776000", "number"); /* 2^63 as a double */
    /* strings that are not plain signed decimals */
    bad(T, "'abc'", "string");
    bad(T, "''", "string");
    bad(T, "'+'", "string");
    bad(T, "'-'", "string");
    bad(T, "'+-1'", "string");
    bad(T, "' 5'", "string");
    bad(T, "'5 '", "string");
    bad(T, "'1.0'", "string");
    bad(T, "'1.5'", "string");
    bad(T, "'1e3'", "string");
    bad(T, "'0x10'", "string");
    bad(T, "'\\uff11'", "string"); /* fullwidth digit one */
    bad(T, "'1\\u0000'", "string");
    /* other JSON types */
    bad(T, "true", "bool");
    bad(T, "false", "bool");
    bad(T, "[]", "array");
    bad(T, "[1]", "array");
    bad(T, "{}", "object");
    bad(T, "{'a':1}", "object");
}

static void test_bigint(void **state)
{
    (void)state;
    const vmdb_ctype T = VMDB_T_BIGINT;
    ok(T, "2147483648", "2147483648");
    ok(T, "'2147483648'", "2147483648");
    ok(T, "-2147483649", "-2147483649");
    ok(T, "'9223372036854775807'", "9223372036854775807");
    ok(T, "'+9223372036854775807'", "9223372036854775807");
    ok(T, "'-9223372036854775808'", "-9223372036854775808");
    ok(T, "'0009223372036854775807'", "9223372036854775807");
    ok(T, "9007199254740992", "9007199254740992");
    ok(T, "-9007199254740992", "-9007199254740992");
    ok(T, "1000000000000000000", "1000000000000000000"); /* 10^18: an exact double */
    ok(T, "'-0'", "0");
    ok(T, "null", NULL);
    bad(T, "'9223372036854775808'", "string");
    bad(T, "'-9223372036854775809'", "string");
    bad(T, "'18446744073709551616'", "string");
    bad(T, "'92233720368547758070'", "string");
    bad(T, "'99999999999999999999999'", "string");
    /* The literal must round-trip (PROTOCOL.md §2.1): 9223372036854775808 does
     * not parse at all; 9223372036854776000 is the double 2^63, one past the max. */
    bad(T, "9223372036854776000", "number");
    bad(T, "10000000000000000000", "number");
    bad(T, "1e19", "number");
    bad(T, "1.0", "number");
    bad(T, "1.5", "number");
    bad(T, "'abc'", "string");
    bad(T, "true", "bool");
    bad(T, "[]", "array");
    bad(T, "{}", "object");
}

/* A JSON number beyond 2^53 that the parser accepts (its text is the
 * shortest form of its double, PROTOCOL.md §2.1) denotes the integer written,
 * not the double's exact value: 4611686018427388000 is an i64 and the seed
 * (serde_json, exact i64 parsing) stores exactly that. vmdb converts the
 * double (2^62 = 4611686018427387904) and stores a different number.
 * -9223372036854776000 is below i64::MIN: the seed refuses it, vmdb stores
 * -9223372036854775808. */
static void test_bigint_number_literal_exact(void **state)
{
    (void)state;
    ok(VMDB_T_BIGINT, "4611686018427388000", "4611686018427388000");
    ok(VMDB_T_BIGINT, "9007199254740993000", "9007199254740993000");
    ok(VMDB_T_BIGINT, "-4611686018427388000", "-4611686018427388000");
    bad(VMDB_T_BIGINT, "-9223372036854776000", "number");
}

static void test_bool(void **state)
{
    (void)state;
    const vmdb_ctype T = VMDB_T_BOOL;
    ok(T, "true", "true");
    ok(T, "false", "false");
    ok(T, "'true'", "true");
    ok(T, "' TRUE '", "true");
    ok(T, "'True'", "true");
    ok(T, "'t'", "true");
    ok(T, "'T'", "true");
    ok(T, "'1'", "true");
    ok(T, "'\\t\\n 1 \\r'", "true");
    ok(T, "'false'", "false");
    ok(T, "'FALSE'", "false");
    ok(T, "'f'", "false");
    ok(T, "'F'", "false");
    ok(T, "'0'", "false");
    ok(T, "'  0'", "false");
    ok(T, "null", NULL);
    bad(T, "'yes'", "string");
    bad(T, "'no'", "string");
    bad(T, "'y'", "string");
    bad(T, "'on'", "string");
    bad(T, "''", "string");
    bad(T, "'   '", "string");
    bad(T, "'tru'", "string");
    bad(T, "'truee'", "string");
    bad(T, "'falsey'", "string");
    bad(T, "'01'", "string");
    bad(T, "'00'", "string");
    bad(T, "'t r'", "string");
    bad(T, "'true\\u0000'", "string");
    bad(T, "'\\u00a0true'", "string"); /* only ASCII whitespace is trimmed */
    bad(T, "1", "number");
    bad(T, "0", "number");
    bad(T, "1.0", "number");
    bad(T, "[true]", "array");
    bad(T, "{}", "object");
}

static void test_uuid(void **state)
{
    (void)state;
    const vmdb_ctype T = VMDB_T_UUID;
    ok(T, "'123e4567-e89b-12d3-a456-426614174000'", "123e4567-e89b-12d3-a456-426614174000");
    ok(T, "'123E4567-E89B-12D3-A456-426614174000'", "123e4567-e89b-12d3-a456-426614174000");
    ok(T, "'123e4567e89b12d3a456426614174000'", "123e4567-e89b-12d3-a456-426614174000");
    ok(T, "'ABCDEFABCDEFABCDEFABCDEFABCDEFAB'", "abcdefab-cdef-abcd-efab-cdefabcdefab");
    ok(T, "'00000000-0000-0000-0000-000000000000'", "00000000-0000-0000-0000-000000000000");
    ok(T, "null", NULL);
    bad(T, "''", "string");
    bad(T, "'not-a-uuid'", "string");
    bad(T, "'123e4567-e89b-12d3-a456-42661417400'", "string");   /* 35 */
    bad(T, "'123e4567-e89b-12d3-a456-4266141740000'", "string"); /* 37 */
    bad(T, "'123e4567e-89b-12d3-a456-426614174000'", "string");  /* hyphen moved */
    bad(T, "'123e4567-e89b-12d3-a456-42661417400g'", "string");
    bad(T, "'123e4567_e89b_12d3_a456_426614174000'", "string");
    bad(T, "'{123e4567-e89b-12d3-a456-426614174000}'", "string");
    bad(T, "' 123e4567-e89b-12d3-a456-426614174000'", "string");
    bad(T, "'123e4567e89b12d3a45642661417400'", "string");  /* 31 */
    bad(T, "'123e4567e89b12d3a45642661417400z'", "string"); /* 32, not hex */
    bad(T, "'123e4567-e89b-12d3-a456-42661417\\u00000'", "string");
    bad(T, "1", "number");
    bad(T, "true", "bool");
    bad(T, "['123e4567-e89b-12d3-a456-426614174000']", "array");
    bad(T, "{}", "object");
}

static void test_timestamptz(void **state)
{
    (void)state;
    const vmdb_ctype T = VMDB_T_TIMESTAMPTZ;
    /* Kept as sent. */
    ok(T, "'2024-01-01T00:00:00Z'", "2024-01-01T00:00:00Z");
    ok(T, "'2024-01-01T00:00:00z'", "2024-01-01T00:00:00z");
    ok(T, "'2024-01-01t00:00:00Z'", "2024-01-01t00:00:00Z");
    ok(T, "'2024-01-01 00:00:00Z'", "2024-01-01 00:00:00Z");
    ok(T, "'2024-01-01T00:00:00+05:30'", "2024-01-01T00:00:00+05:30");
    ok(T, "'2024-01-01T00:00:00-08:00'", "2024-01-01T00:00:00-08:00");
    ok(T, "'2024-01-01T00:00:00+00:00'", "2024-01-01T00:00:00+00:00");
    ok(T, "'2024-01-01T12:34:56.789Z'", "2024-01-01T12:34:56.789Z");
    ok(T, "'2024-01-01T12:34:56.123456789+01:00'", "2024-01-01T12:34:56.123456789+01:00");
    ok(T, "'1999-12-31T23:59:59.9-23:59'", "1999-12-31T23:59:59.9-23:59");
    ok(T, "null", NULL);
    bad(T, "'2024-01-01'", "string");
    bad(T, "'2024-01-01T00:00:00'", "string");
    bad(T, "'2024-01-01T00:00:00.5'", "string");
    bad(T, "'2024-13-01T00:00:00Z'", "string");
    bad(T, "'2024-00-01T00:00:00Z'", "string");
    bad(T, "'2024-01-00T00:00:00Z'", "string");
    bad(T, "'2024-01-32T00:00:00Z'", "string");
    bad(T, "'2024-01-01T24:00:00Z'", "string");
    bad(T, "'2024-01-01T00:60:00Z'", "string");
    bad(T, "'2024-01-01T00:00:61Z'", "string");
    bad(T, "'2024-01-01T00:00:00.Z'", "string");
    bad(T, "'2024-01-01T00:00:00+0530'", "string");
    bad(T, "'2024-01-01T00:00:00+05'", "string");
    bad(T, "'2024-01-01T00:00:00+24:00'", "string");
    bad(T, "'2024-01-01T00:00:00+05:60'", "string");
    bad(T, "'2024-01-01T00:00:00ZZ'", "string");
    bad(T, "'2024-01-01T00:00:00Z '", "string");
    bad(T, "' 2024-01-01T00:00:00Z'", "string");
    bad(T, "'2024-1-01T00:00:00Z'", "string");
    bad(T, "'2024/01/01T00:00:00Z'", "string");
    bad(T, "'2024-01-01X00:00:00Z'", "string");
    bad(T, "'2024-01-01T00:00:00Z\\u0000'", "string");
    bad(T, "'now'", "string");
    bad(T, "''", "string");
    bad(T, "1704067200", "number");
    bad(T, "true", "bool");
    bad(T, "[]", "array");
    bad(T, "{}", "object");
}

static void test_jsonb(void **state)
{
    (void)state;
    const vmdb_ctype T = VMDB_T_JSONB;
    ok(T, "{ 'b' : 1, 'a' : [1.0, 'x', null, {'d':true,'c':false}] }",
       "{\"a\":[1,\"x\",null,{\"c\":false,\"d\":true}],\"b\":1}");
    ok(T, "{}", "{}");
    ok(T, "[]", "[]");
    ok(T, "[3, 1, 2]", "[3,1,2]");
    /* a string stays a string (the seed parsed it as JSON text) */
    ok(T, "'hello'", "\"hello\"");
    ok(T, "'{\\'a\\':1}'", "\"{\\\"a\\\":1}\"");
    ok(T, "'caf\\u00e9'", "\"caf\xc3\xa9\"");
    ok(T, "5", "5");
    ok(T, "1e2", "100");
    ok(T, "1.50", "1.5");
    ok(T, "-0", "0");
    ok(T, "true", "true");
    ok(T, "false", "false");
    ok(T, "null", NULL); /* SQL NULL, not the JSON null */
    bad(T, "'a\\u0000b'", "string");
}

static void test_text(void **state)
{
    (void)state;
    const vmdb_ctype T = VMDB_T_TEXT;
    ok(T, "'hello'", "hello");
    ok(T, "''", "");
    ok(T, "'  spaced  '", "  spaced  ");
    ok(T, "'caf\\u00e9 \\ud83d\\ude00'", "caf\xc3\xa9 \xf0\x9f\x98\x80");
    ok(T, "'line\\nbreak'", "line\nbreak");
    ok(T, "'null'", "null");
    ok(T, "5", "5");
    ok(T, "-1.50", "-1.5");
    ok(T, "1e21", "1e+21");
    ok(T, "true", "true");
    ok(T, "false", "false");
    ok(T, "{'a':1}", "{\"a\":1}");
    ok(T, "{'b':[1, 2.0], 'a':'x'}", "{\"a\":\"x\",\"b\":[1,2]}");
    ok(T, "[1,'x',null]", "[1,\"x\",null]");
    ok(T, "null", NULL);
    bad(T, "'a\\u0000b'", "string");
    bad(T, "'\\u0000'", "string");
}

/* Types vmdb only knows by name (numeric, and anything else after a
 * migration) travel as text: strings as given, other values as JSON text. */
static void test_numeric_and_other(void **state)
{
    (void)state;
    ok(VMDB_T_NUMERIC, "'123.4500'", "123.4500");
    ok(VMDB_T_NUMERIC, "'NaN'", "NaN");
    ok(VMDB_T_NUMERIC, "1.5", "1.5");
    ok(VMDB_T_NUMERIC, "10", "10");
    ok(VMDB_T_NUMERIC, "null", NULL);
    bad(VMDB_T_NUMERIC, "true", "bool");
    bad(VMDB_T_NUMERIC, "[1]", "array");
    bad(VMDB_T_NUMERIC, "{'a':1}", "object");
    bad(VMDB_T_NUMERIC, "'1\\u0000'", "string");
    ok(VMDB_T_OTHER, "'(1,2)'", "(1,2)");
    ok(VMDB_T_OTHER, "5", "5");
    ok(VMDB_T_OTHER, "true", "true");
    ok(VMDB_T_OTHER, "{'y':2,'x':1}", "{\"x\":1,\"y\":2}");
    ok(VMDB_T_OTHER, "null", NULL);
    bad(VMDB_T_OTHER, "'\\u0000'", "string");
}

/* U+0000 cannot be stored by PostgreSQL in any text form: refused for every type. */
static void test_nul_refused_everywhere(void **state)
{
    (void)state;
    static const vmdb_ctype all[] = {VMDB_T_TEXT, VMDB_T_INT,     VMDB_T_BIGINT,
                                     VMDB_T_BOOL, VMDB_T_JSONB,   VMDB_T_TIMESTAMPTZ,
                                     VMDB_T_UUID, VMDB_T_NUMERIC, VMDB_T_OTHER};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        bad(all[i], "'\\u0000'", "string");
        bad(all[i], "'x\\u0000'", "string");
        ok(all[i], "null", NULL);
    }
}

static void test_json_type_name(void **state)
{
    (void)state;
    static const struct {
        const char *json, *name;
    } t[] = {
        {"null", "null"},   {"true", "bool"}, {"false", "bool"},      {"0", "number"},
        {"-1.5", "number"}, {"''", "string"}, {"'x'", "string"},      {"[]", "array"},
        {"[{}]", "array"},  {"{}", "object"}, {"{'a':[]}", "object"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        vmdb_json_doc *d = parse_q(t[i].json);
        assert_string_equal(vmdb_json_type_name(vmdb_json_doc_root(d)), t[i].name);
        vmdb_json_doc_free(d);
    }
}

/* ---- vmdb_coerce_key ------------------------------------------------------ */

#define KEY_OK(t, s, want) assert_string_equal(key_ok((t), (s), sizeof(s) - 1), (want))
#define KEY_BAD(t, s) key_bad((t), (s), sizeof(s) - 1)

static void test_coerce_key(void **state)
{
    (void)state;
    KEY_OK(VMDB_T_INT, "007", "7");
    KEY_OK(VMDB_T_INT, "7", "7");
    KEY_OK(VMDB_T_INT, "+12", "12");
    KEY_OK(VMDB_T_INT, "-0", "0");
    KEY_OK(VMDB_T_INT, "-00042", "-42");
    KEY_OK(VMDB_T_INT, "2147483647", "2147483647");
    KEY_OK(VMDB_T_INT, "-2147483648", "-2147483648");
    KEY_BAD(VMDB_T_INT, "2147483648");
    KEY_BAD(VMDB_T_INT, "-2147483649");
    KEY_BAD(VMDB_T_INT, "");
    KEY_BAD(VMDB_T_INT, "abc");
    KEY_BAD(VMDB_T_INT, " 1");
    KEY_BAD(VMDB_T_INT, "1.0");
    KEY_BAD(VMDB_T_INT, "1e2");
    KEY_BAD(VMDB_T_INT, "-");
    KEY_BAD(VMDB_T_INT, "1\0");
    KEY_OK(VMDB_T_BIGINT, "2147483648", "2147483648");
    KEY_OK(VMDB_T_BIGINT, "0009223372036854775807", "9223372036854775807");
    KEY_OK(VMDB_T_BIGINT, "-9223372036854775808", "-9223372036854775808");
    KEY_BAD(VMDB_T_BIGINT, "9223372036854775808");
    KEY_BAD(VMDB_T_BIGINT, "-9223372036854775809");
    KEY_BAD(VMDB_T_BIGINT, "x1");

    KEY_OK(VMDB_T_UUID, "123E4567-E89B-12D3-A456-426614174000",
           "123e4567-e89b-12d3-a456-426614174000");
    KEY_OK(VMDB_T_UUID, "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-426614174000");
    KEY_OK(VMDB_T_UUID, "123e4567-e89b-12d3-a456-426614174000",
           "123e4567-e89b-12d3-a456-426614174000");
    KEY_BAD(VMDB_T_UUID, "123e4567-e89b-12d3-a456-42661417400");
    KEY_BAD(VMDB_T_UUID, "123e4567-e89b-12d3-a456-42661417400x");
    KEY_BAD(VMDB_T_UUID, "");

    /* Text keys are taken as they are. */
    KEY_OK(VMDB_T_TEXT, " Abc 007 ", " Abc 007 ");
    KEY_OK(VMDB_T_TEXT, "", "");
    KEY_OK(VMDB_T_TEXT, "caf\xc3\xa9", "caf\xc3\xa9");
    KEY_BAD(VMDB_T_TEXT, "a\0b");

    /* The length given is the key: a prefix of a longer buffer. */
    assert_string_equal(key_ok(VMDB_T_INT, "12345", 2), "12");
    assert_string_equal(key_ok(VMDB_T_TEXT, "abcdef", 3), "abc");
}

/* ---- vmdb_field_error ----------------------------------------------------- */

/* The errors as the API sends them (rendered by the server), parsed. */
static vmdb_json_doc *parse_errors(const vmdb_field_errors *errors)
{
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_render_field_errors(&b, errors), 0);
    vmdb_json_doc *d = parse_raw((const char *)b.ptr, b.len);
    vmdb_buf_free(&b);
    return d;
}

static void assert_member_str(const vmdb_json *o, const char *key, const char *want)
{
    const vmdb_json *v = vmdb_json_get(o, key);
    if (!v || vmdb_json_typeof(v) != VMDB_JSON_STRING)
        fail_msg("member %s missing or not a string", key);
    vmdb_slice s = vmdb_json_string(v);
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
        fail_msg("member %s is '%.*s', wanted '%s'", key, (int)s.len, (const char *)s.ptr, want);
}

/* One FieldError: exactly the members index, field, expected, got, value. */
static void assert_field_error(const vmdb_json *arr, size_t i, size_t index, const char *field,
                               const char *expected, const char *got, const char *value_json)
{
    const vmdb_json *e = vmdb_json_at(arr, i);
    if (!e || vmdb_json_typeof(e) != VMDB_JSON_OBJECT)
        fail_msg("error %zu missing or not an object", i);
    assert_int_equal(vmdb_json_size(e), 5);
    const vmdb_json *ix = vmdb_json_get(e, "index");
    assert_non_null(ix);
    assert_int_equal(vmdb_json_typeof(ix), VMDB_JSON_NUMBER);
    assert_true(vmdb_json_is_integer_literal(ix));
    if (vmdb_json_number(ix) != (double)index)
        fail_msg("error %zu: index %g, wanted %zu", i, vmdb_json_number(ix), index);
    if (field)
        assert_member_str(e, "field", field);
    assert_member_str(e, "expected", expected);
    assert_member_str(e, "got", got);
    const vmdb_json *v = vmdb_json_get(e, "value");
    assert_non_null(v);
    vmdb_buf have = VMDB_BUF_INIT, want = VMDB_BUF_INIT;
    assert_int_equal(vmdb_jcs_write(&have, v), 0);
    char *wq = q(value_json);
    assert_int_equal(vmdb_jcs_canonicalize(&want, VMDB_SLICE(wq, strlen(wq)), NULL), 0);
    if (have.len != want.len || memcmp(have.ptr, want.ptr, have.len) != 0)
        fail_msg("error %zu: value %.*s, wanted %.*s", i, (int)have.len, (const char *)have.ptr,
                 (int)want.len, (const char *)want.ptr);
    free(wq);
    vmdb_buf_free(&have);
    vmdb_buf_free(&want);
}

static void test_field_error(void **state)
{
    (void)state;
    vmdb_field_errors errors = {0};
    vmdb_buf text = VMDB_BUF_INIT;
    vmdb_json_doc *v = parse_q("{'z':[1.0,'\\u00e9'],'a':null}");
    assert_int_equal(
        vmdb_field_errors_add(&arena, &errors, 3, "col", "int", "object", vmdb_json_doc_root(v)),
        0);
    assert_int_equal(
        vmdb_field_errors_add(&arena, &errors, 0, "pk\"\\\n", "present", "missing", NULL), 0);
    assert_int_equal(errors.total, 2);
    /* Byte for byte as the server renders them: members in JCS order, the
     * value canonical. */
    const char *want = "[{\"expected\":\"int\",\"field\":\"col\",\"got\":\"object\",\"index\":3,"
                       "\"value\":{\"a\":null,\"z\":[1,\"\xc3\xa9\"]}},"
                       "{\"expected\":\"present\",\"field\":\"pk\\\"\\\\\\n\",\"got\":\"missing\","
                       "\"index\":0,\"value\":null}]";
    assert_int_equal(vmdb_render_field_errors(&text, &errors), 0);
    if (text.len != strlen(want) || memcmp(text.ptr, want, text.len) != 0)
        fail_msg("errors\n  got    %.*s\n  wanted %s", (int)text.len, (const char *)text.ptr, want);
    vmdb_buf_free(&text);
    vmdb_json_doc *d = parse_errors(&errors);
    vmdb_json_doc_free(v);
    const vmdb_json *arr = vmdb_json_doc_root(d);
    assert_int_equal(vmdb_json_size(arr), 2);
    assert_field_error(arr, 0, 3, "col", "int", "object", "{'a':null,'z':[1,'\\u00e9']}");
    assert_field_error(arr, 1, 0, "pk\"\\\n", "present", "missing", "null");
    vmdb_json_doc_free(d);

    /* At most 1000 errors are kept; the rest are only counted. */
    memset(&errors, 0, sizeof errors);
    for (size_t i = 0; i < 1005; i++)
        assert_int_equal(vmdb_field_errors_add(&arena, &errors, i, "f", "int", "string", NULL), 0);
    assert_int_equal(errors.total, 1005);
    d = parse_errors(&errors);
    assert_int_equal(vmdb_json_size(vmdb_json_doc_root(d)), 1000);
    assert_field_error(vmdb_json_doc_root(d), 999, 999, "f", "int", "string", "null");
    vmdb_json_doc_free(d);
}

/* ---- vmdb_coerce_records --------------------------------------------------- */

static vmdb_registry *model_registry(const char *tables_q)
{
    vmdb_json_doc *d = parse_q(tables_q);
    vmdb_registry *r = NULL;
    char msg[200] = "";
    int rc = vmdb_registry_from_request(&r, vmdb_json_doc_root(d), msg, sizeof msg);
    vmdb_json_doc_free(d);
    if (rc)
        fail_msg("model: %d %s", rc, msg);
    return r;
}

static const char *const ITEMS =
    "[{'table_name':'items','primary_key_field':'id','primary_key_kind':'serial','columns':["
    "{'name':'name','col_type':'text'},"
    "{'name':'count','col_type':'int','nullable':true},"
    "{'name':'flag','col_type':'bool','nullable':true},"
    "{'name':'meta','col_type':'jsonb','nullable':true},"
    "{'name':'at','col_type':'timestamptz','nullable':true},"
    "{'name':'big','col_type':'big_int','nullable':true},"
    "{'name':'u','col_type':'uuid','nullable':true}]}]";

typedef struct records_run {
    vmdb_json_doc *doc;
    vmdb_crec *recs;
    vmdb_field_errors errors;
    size_t nerr;
    vmdb_json_doc *errdoc;
    const vmdb_json *errs; /* the parsed error array */
} records_run;

static void run_records(records_run *run, const vmdb_model *m, const char *records_q, bool need_pk)
{
    memset(run, 0, sizeof *run);
    run->doc = parse_q(records_q);
    int rc = vmdb_coerce_records(&arena, m, vmdb_json_doc_root(run->doc), need_pk, &run->recs,
                                 &run->errors);
    assert_int_equal(rc, 0);
    run->nerr = run->errors.total;
    assert_non_null(run->recs);
    run->errdoc = parse_errors(&run->errors);
    run->errs = vmdb_json_doc_root(run->errdoc);
    assert_int_equal(vmdb_json_size(run->errs), run->nerr);
}

static void free_run(records_run *run)
{
    vmdb_json_doc_free(run->errdoc);
    vmdb_json_doc_free(run->doc);
}

/* Record values: `want` lists "name=text" (or "name" alone for SQL NULL), in
 * the order the record must hold them (sorted by column name). */
static void assert_values(const vmdb_crec *rec, const char *const *want, size_t n)
{
    if (rec->n != n)
        fail_msg("record has %zu values, wanted %zu", rec->n, n);
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(want[i], '=');
        size_t nl = eq ? (size_t)(eq - want[i]) : strlen(want[i]);
        const vmdb_cval *cv = &rec->v[i];
        assert_non_null(cv->col);
        if (strlen(cv->col->name) != nl || memcmp(cv->col->name, want[i], nl) != 0)
            fail_msg("value %zu is column %s, wanted %s", i, cv->col->name, want[i]);
        if (!eq) {
            if (cv->text)
                fail_msg("column %s is '%s', wanted SQL NULL", cv->col->name, cv->text);
        } else if (!cv->text || strcmp(cv->text, eq + 1) != 0) {
            fail_msg("column %s is '%s', wanted '%s'", cv->col->name, cv->text ? cv->text : "NULL",
                     eq + 1);
        }
        if (i)
            assert_true(strcmp(rec->v[i - 1].col->name, cv->col->name) < 0);
    }
}

static void test_records_create(void **state)
{
    (void)state;
    vmdb_registry *r = model_registry(ITEMS);
    const vmdb_model *m = vmdb_registry_find(r, "items");
    records_run run;
    run_records(&run, m,
                "[{'u':'123E4567-E89B-12D3-A456-426614174000','name':'x','meta':{'b':1,'a':[1.0]},"
                "'id':'007','flag':' t ','count':'5','big':'9223372036854775807',"
                "'at':'2024-01-01T00:00:00Z'},"
                "{'zzz':1,'name':null,'flag':'yes','count':1.5},"
                "5,"
                "{'u':'bad','at':'2024-01-01'},"
                "{'id':null,'big':true},"
                "{},"
                "[1],"
                "null,"
                "{'Name':'x','name':'y'},"
                "{'meta':null,'count':'-0','id':2147483647}]",
                false);
    assert_int_equal(run.nerr, 11);
    const vmdb_json *e = run.errs;
    /* Within a record, in the record's key order (JCS order). */
    assert_field_error(e, 0, 1, "count", "int", "number", "1.5");
    assert_field_error(e, 1, 1, "flag", "bool", "string", "'yes'");
    assert_field_error(e, 2, 1, "zzz", "column", "unknown", "1");
    assert_field_error(e, 3, 2, "<record>", "object", "number", "5");
    assert_field_error(e, 4, 3, "at", "timestamptz", "string", "'2024-01-01'");
    assert_field_error(e, 5, 3, "u", "uuid", "string", "'bad'");
    assert_field_error(e, 6, 4, "big", "bigint", "bool", "true");
    assert_field_error(e, 7, 4, "id", "int", "null", "null"); /* a key cannot be NULL */
    assert_field_error(e, 8, 6, "<record>", "object", "array", "[1]");
    assert_field_error(e, 9, 7, "<record>", "object", "null", "null");
    assert_field_error(e, 10, 8, "name", "column", "duplicate",
                       "'y'"); /* "Name" is column name; the second spelling is a duplicate */

    static const char *const rec0[] = {
        "at=2024-01-01T00:00:00Z",
        "big=9223372036854775807",
        "count=5",
        "flag=true",
        "id=7",
        "meta={\"a\":[1],\"b\":1}",
        "name=x",
        "u=123e4567-e89b-12d3-a456-426614174000",
    };
    assert_values(&run.recs[0], rec0, sizeof rec0 / sizeof rec0[0]);
    assert_non_null(run.recs[0].pk_text);
    assert_string_equal(run.recs[0].pk_text, "7");
    /* The key's column is synthesised from the model. */
    const vmdb_column *idc = run.recs[0].v[4].col;
    assert_string_equal(idc->name, "id");
    assert_int_equal(idc->type, VMDB_T_INT);
    /* Declared columns are the model's own. */
    assert_ptr_equal(run.recs[0].v[6].col, vmdb_model_column(m, "name", NULL));

    static const char *const rec1[] = {"name"}; /* null → SQL NULL; bad fields left out */
    assert_values(&run.recs[1], rec1, 1);
    assert_null(run.recs[1].pk_text);
    assert_int_equal(run.recs[2].n, 0);
    assert_int_equal(run.recs[3].n, 0);
    assert_int_equal(run.recs[4].n, 0);
    assert_null(run.recs[4].pk_text);
    assert_int_equal(run.recs[5].n, 0);
    assert_null(run.recs[5].pk_text);
    static const char *const rec8[] = {"name=x"};
    assert_values(&run.recs[8], rec8, 1);
    static const char *const rec9[] = {"count=0", "id=2147483647", "meta"};
    assert_values(&run.recs[9], rec9, 3);
    assert_string_equal(run.recs[9].pk_text, "2147483647");
    free_run(&run);

    /* No errors at all: an empty errors buffer. */
    run_records(&run, m, "[{'name':'a'},{'name':'b','id':1}]", false);
    assert_int_equal(run.nerr, 0);
    assert_int_equal(run.errors.n, 0);
    assert_null(run.recs[0].pk_text);
    assert_string_equal(run.recs[1].pk_text, "1");
    free_run(&run);

    /* No records. */
    run_records(&run, m, "[]", false);
    assert_int_equal(run.nerr, 0);
    free_run(&run);
    vmdb_registry_unref(r);
}

static void test_records_upsert(void **state)
{
    (void)state;
    vmdb_registry *r = model_registry(ITEMS);
    const vmdb_model *m = vmdb_registry_find(r, "items");
    records_run run;
    run_records(&run, m,
                "[{'name':'a','count':'bad'},"
                "{'id':'12','name':'b'},"
                "{'id':'x'},"
                "{'big':1,'id':'0012'},"
                "{'ID':1,'name':'c'},"
                "'str',"
                "{'id':12.5,'zz':[]}]",
                true);
    assert_int_equal(run.nerr, 6);
    /* Without the key the other fields are not examined. */
    assert_field_error(run.errs, 0, 0, "id", "present", "missing", "null");
    assert_field_error(run.errs, 1, 2, "id", "int", "string", "'x'");
    assert_field_error(run.errs, 2, 4, "id", "present", "missing", "null");
    assert_field_error(run.errs, 3, 5, "<record>", "object", "string", "'str'");
    assert_field_error(run.errs, 4, 6, "id", "int", "number", "12.5");
    assert_field_error(run.errs, 5, 6, "zz", "column", "unknown", "[]");
    assert_int_equal(run.recs[0].n, 0);
    static const char *const rec1[] = {"id=12", "name=b"};
    assert_values(&run.recs[1], rec1, 2);
    assert_string_equal(run.recs[1].pk_text, "12");
    assert_null(run.recs[2].pk_text);
    static const char *const rec3[] = {"big=1", "id=12"};
    assert_values(&run.recs[3], rec3, 2);
    assert_string_equal(run.recs[3].pk_text, "12");
    free_run(&run);
    vmdb_registry_unref(r);
}

/* The key is coerced by the key's type and reported under that type's name. */
static void test_records_key_types(void **state)
{
    (void)state;
    vmdb_registry *r = model_registry(
        "[{'table_name':'b','primary_key_field':'id','primary_key_kind':'big_serial','columns':[]},"
        "{'table_name':'u','primary_key_field':'id','primary_key_kind':'uuid','columns':"
        "[{'name':'v','col_type':'int','nullable':true}]},"
        "{'table_name':'t','primary_key_field':'k','primary_key_kind':'text','columns':[]},"
        "{'table_name':'bi','primary_key_field':'id','primary_key_kind':'big_int','columns':[]}]");
    records_run run;

    run_records(
        &run, vmdb_registry_find(r, "b"),
        "[{'id':'abc'},{'id':9007199254740992},{'id':'-0009223372036854775808'},{'id':1.5}]", true);
    assert_int_equal(run.nerr, 2);
    assert_field_error(run.errs, 0, 0, "id", "bigint", "string", "'abc'");
    assert_field_error(run.errs, 1, 3, "id", "bigint", "number", "1.5");
    assert_string_equal(run.recs[1].pk_text, "9007199254740992");
    assert_string_equal(run.recs[2].pk_text, "-9223372036854775808");
    assert_int_equal(run.recs[1].v[0].col->type, VMDB_T_BIGINT);
    free_run(&run);

    run_records(&run, vmdb_registry_find(r, "bi"), "[{'id':'2147483648'},{'id':true}]", false);
    assert_int_equal(run.nerr, 1);
    assert_field_error(run.errs, 0, 1, "id", "bigint", "bool", "true");
    assert_string_equal(run.recs[0].pk_text, "2147483648");
    free_run(&run);

    run_records(&run, vmdb_registry_find(r, "u"),
                "[{'id':'ABCDEF00-1111-2222-3333-444455556666','v':null},{'id':'nope','v':'1'},"
                "{'id':5}]",
                true);
    assert_int_equal(run.nerr, 2);
    assert_field_error(run.errs, 0, 1, "id", "uuid", "string", "'nope'");
    assert_field_error(run.errs, 1, 2, "id", "uuid", "number", "5");
    assert_string_equal(run.recs[0].pk_text, "abcdef00-1111-2222-3333-444455556666");
    static const char *const rec0[] = {"id=abcdef00-1111-2222-3333-444455556666", "v"};
    assert_values(&run.recs[0], rec0, 2);
    free_run(&run);

    /* A text key takes any value; non-strings as their JSON text. */
    run_records(&run, vmdb_registry_find(r, "t"), "[{'k':'A b'},{'k':5},{'k':{'x':1}},{'k':null}]",
                true);
    assert_int_equal(run.nerr, 1);
    assert_field_error(run.errs, 0, 3, "k", "text", "null", "null");
    assert_string_equal(run.recs[0].pk_text, "A b");
    assert_string_equal(run.recs[1].pk_text, "5");
    assert_string_equal(run.recs[2].pk_text, "{\"x\":1}");
    free_run(&run);
    vmdb_registry_unref(r);

    /* A declared column named like the key does not change how the key is
     * coerced (reload rule, §2.7): the key's own type decides. */
    const vmdb_model_row rows[] = {
        {"m", "id", "serial", "[{\"name\":\"id\",\"col_type\":\"bigint\"}]", NULL}};
    assert_int_equal(vmdb_registry_from_rows(&r, rows, 1, NULL), 0);
    run_records(&run, vmdb_registry_find(r, "m"), "[{'id':'3000000000'},{'id':'0042'}]", false);
    assert_int_equal(run.nerr, 1);
    assert_field_error(run.errs, 0, 0, "id", "int", "string", "'3000000000'");
    assert_string_equal(run.recs[1].pk_text, "42");
    assert_ptr_equal(run.recs[1].v[0].col, &vmdb_registry_find(r, "m")->cols[0]);
    free_run(&run);
    vmdb_registry_unref(r);
}

/* Keys that cannot be column names are unknown columns, never SQL. */
static void test_records_hostile_keys(void **state)
{
    (void)state;
    vmdb_registry *r = model_registry(ITEMS);
    const vmdb_model *m = vmdb_registry_find(r, "items");
    records_run run;
    run_records(&run, m,
                "[{'name\\u0000':1,'name; DROP TABLE items':2,'\\\"name\\\"':3,'':4,'name ':5}]",
                false);
    assert_int_equal(run.nerr, 5);
    /* JCS key order: "", "\"name\"", "name\0", "name ", "name; ..." */
    assert_field_error(run.errs, 0, 0, "", "column", "unknown", "4");
    assert_field_error(run.errs, 1, 0, "\"name\"", "column", "unknown", "3");
    assert_field_error(run.errs, 2, 0, NULL, "column", "unknown", "1");
    assert_field_error(run.errs, 3, 0, "name ", "column", "unknown", "5");
    assert_field_error(run.errs, 4, 0, "name; DROP TABLE items", "column", "unknown", "2");
    assert_int_equal(run.recs[0].n, 0);
    free_run(&run);
    vmdb_registry_unref(r);
}

/* Many records: every error is collected (up to the cap) with its index. */
static void test_records_many_errors(void **state)
{
    (void)state;
    vmdb_registry *r = model_registry(ITEMS);
    const vmdb_model *m = vmdb_registry_find(r, "items");
    vmdb_buf in = VMDB_BUF_INIT;
    assert_int_equal(vmdb_buf_putc(&in, '['), 0);
    for (int i = 0; i < 600; i++)
        assert_int_equal(
            vmdb_sb_printf(&in, "%s{'count':'n%d','flag':2,'name':'r%d'}", i ? "," : "", i, i), 0);
    assert_int_equal(vmdb_buf_putc(&in, ']'), 0);
    assert_int_equal(vmdb_sb_cstr(&in), 0);
    vmdb_json_doc *d = parse_q((const char *)in.ptr);
    vmdb_crec *recs = NULL;
    vmdb_field_errors errors = {0};
    assert_int_equal(vmdb_coerce_records(&arena, m, vmdb_json_doc_root(d), false, &recs, &errors),
                     0);
    assert_int_equal(errors.total, 1200);
    vmdb_json_doc *ed = parse_errors(&errors);
    const vmdb_json *arr = vmdb_json_doc_root(ed);
    assert_int_equal(vmdb_json_size(arr), 1000);
    char val[16];
    snprintf(val, sizeof val, "'n%d'", 499);
    assert_field_error(arr, 998, 499, "count", "int", "string", val);
    assert_field_error(arr, 999, 499, "flag", "bool", "number", "2");
    char nm[16];
    snprintf(nm, sizeof nm, "r%d", 599);
    assert_int_equal(recs[599].n, 1);
    assert_string_equal(recs[599].v[0].text, nm);
    vmdb_json_doc_free(ed);
    vmdb_json_doc_free(d);
    vmdb_buf_free(&in);
    vmdb_registry_unref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_int, teardown),
        cmocka_unit_test_teardown(test_bigint, teardown),
        cmocka_unit_test_teardown(test_bigint_number_literal_exact, teardown),
        cmocka_unit_test_teardown(test_bool, teardown),
        cmocka_unit_test_teardown(test_uuid, teardown),
        cmocka_unit_test_teardown(test_timestamptz, teardown),
        cmocka_unit_test_teardown(test_jsonb, teardown),
        cmocka_unit_test_teardown(test_text, teardown),
        cmocka_unit_test_teardown(test_numeric_and_other, teardown),
        cmocka_unit_test_teardown(test_nul_refused_everywhere, teardown),
        cmocka_unit_test_teardown(test_json_type_name, teardown),
        cmocka_unit_test_teardown(test_coerce_key, teardown),
        cmocka_unit_test_teardown(test_field_error, teardown),
        cmocka_unit_test_teardown(test_records_create, teardown),
        cmocka_unit_test_teardown(test_records_upsert, teardown),
        cmocka_unit_test_teardown(test_records_key_types, teardown),
        cmocka_unit_test_teardown(test_records_hostile_keys, teardown),
        cmocka_unit_test_teardown(test_records_many_errors, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
