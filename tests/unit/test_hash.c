/*
 * The hasher: the SHA-NI kernel and the OpenSSL path must agree with each
 * other and with published SHA-256 values on every length and split, and
 * the node hash must be SHA-256 of its 65 input bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "testutil.h"
#include "vmdb/hash.h"

static void hex32(const char *hex, uint8_t out[32])
{
    tu_unhex32(out, hex, 64);
}

static void test_known_values(void **state)
{
    (void)state;
    vmdb_hasher *h[2] = {NULL, NULL};
    assert_int_equal(vmdb_hasher_new(&h[0], 0), 0);
    assert_int_equal(vmdb_hasher_new(&h[1], VMDB_HASHER_FORCE_OPENSSL), 0);
    assert_string_equal(vmdb_hasher_impl(h[1]), "openssl");
    for (int i = 0; i < 2; i++) {
        uint8_t got[32], want[32];
        hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
        vmdb_hash_parts(h[i], got, NULL, 0);
        assert_memory_equal(got, want, 32);
        vmdb_slice abc = VMDB_SLICE_STR("abc");
        hex32("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want);
        vmdb_hash_parts(h[i], got, &abc, 1);
        assert_memory_equal(got, want, 32);
        vmdb_slice two = VMDB_SLICE_STR("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
        hex32("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", want);
        vmdb_hash_parts(h[i], got, &two, 1);
        assert_memory_equal(got, want, 32);
    }
    vmdb_hasher_free(h[0]);
    vmdb_hasher_free(h[1]);
}

static void test_lengths_and_splits(void **state)
{
    (void)state;
    vmdb_hasher *fast = NULL, *ossl = NULL;
    tu_rng r = {42};
    uint8_t msg[1100];
    assert_int_equal(vmdb_hasher_new(&fast, 0), 0);
    assert_int_equal(vmdb_hasher_new(&ossl, VMDB_HASHER_FORCE_OPENSSL), 0);
    tu_fill(&r, msg, sizeof(msg));
    for (size_t len = 0; len <= sizeof(msg); len++) {
        uint8_t a[32], b[32], c[32];
        SHA256(msg, len, c);
        size_t cut1 = len ? (size_t)(tu_rand(&r) % (len + 1)) : 0;
        size_t cut2 = cut1 + (len > cut1 ? (size_t)(tu_rand(&r) % (len - cut1 + 1)) : 0);
        vmdb_slice parts[3] = {{msg, cut1}, {msg + cut1, cut2 - cut1}, {msg + cut2, len - cut2}};
        vmdb_hash_parts(fast, a, parts, 3);
        vmdb_hash_parts(ossl, b, parts, 3);
        assert_memory_equal(a, c, 32);
        assert_memory_equal(b, c, 32);
    }
    vmdb_hasher_free(fast);
    vmdb_hasher_free(ossl);
}

static void test_node_hash(void **state)
{
    (void)state;
    vmdb_hasher *fast = NULL, *ossl = NULL;
    tu_rng r = {7};
    assert_int_equal(vmdb_hasher_new(&fast, 0), 0);
    assert_int_equal(vmdb_hasher_new(&ossl, VMDB_HASHER_FORCE_OPENSSL), 0);
    for (int i = 0; i < 20000; i++) {
        uint8_t in[65], a[32], b[32], c[32];
        tu_fill(&r, in, sizeof(in));
        in[0] &= 1;
        SHA256(in, 65, c);
        vmdb_hash_node(fast, a, in[0], in + 1, in + 33);
        vmdb_hash_node(ossl, b, in[0], in + 1, in + 33);
        assert_memory_equal(a, c, 32);
        assert_memory_equal(b, c, 32);
    }
    /* The output may alias an input, as the tree and verifier rely on. */
    uint8_t x[32] = {1}, y[32] = {2}, in[65], want[32];
    in[0] = 1;
    memcpy(in + 1, x, 32);
    memcpy(in + 33, y, 32);
    SHA256(in, 65, want);
    vmdb_hash_node(fast, x, 1, x, y);
    assert_memory_equal(x, want, 32);
    assert_int_equal(vmdb_hasher_node_count(fast), 20001);
    vmdb_hasher_free(fast);
    vmdb_hasher_free(ossl);
}

/* The multi-buffer path (vmdb_hash_nodes) against OpenSSL's SHA256 on
 * random inputs, for every batch size that mixes the 4-, 2- and one-lane
 * kernels, with outputs aliasing their own inputs, on both hashers. */
static void test_node_hashes_many(void **state)
{
    (void)state;
    vmdb_hasher *h[2] = {NULL, NULL};
    tu_rng r = {11};
    assert_int_equal(vmdb_hasher_new(&h[0], 0), 0);
    assert_int_equal(vmdb_hasher_new(&h[1], VMDB_HASHER_FORCE_OPENSSL), 0);
    for (int k = 0; k < 2; k++) {
        uint64_t before = vmdb_hasher_node_count(h[k]), count = 0;
        for (int round = 0; round < 400; round++) {
            enum { MAX = 13 };
            size_t n = (size_t)round % (MAX + 1);
            uint8_t in[MAX][65], out[MAX][32], a[MAX][32], want[32];
            vmdb_node_job jobs[MAX];
            for (size_t j = 0; j < n; j++) {
                tu_fill(&r, in[j], 65);
                in[j][0] &= 1;
                memcpy(a[j], in[j] + 1, 32);
                /* Odd jobs write over their own first input. */
                uint8_t *o = j % 2 ? a[j] : out[j];
                jobs[j] = (vmdb_node_job){o, a[j], in[j] + 33, in[j][0]};
            }
            vmdb_hash_nodes(h[k], jobs, n);
            count += n;
            for (size_t j = 0; j < n; j++) {
                SHA256(in[j], 65, want);
                assert_memory_equal(jobs[j].out, want, 32);
            }
        }
        assert_int_equal(vmdb_hasher_node_count(h[k]) - before, count);
    }
    vmdb_hasher_free(h[0]);
    vmdb_hasher_free(h[1]);
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t b[4];
    char out[9];
    assert_int_equal(vmdb_hex_decode(b, 4, "DEADbeef", 8), 0);
    vmdb_hex_encode(out, b, 4);
    assert_string_equal(out, "deadbeef");
    assert_int_equal(vmdb_hex_decode(b, 4, "deadbee", 7), VMDB_EINVAL);
    assert_int_equal(vmdb_hex_decode(b, 4, "deadbeeg", 8), VMDB_EINVAL);
    assert_string_equal(vmdb_error_name(VMDB_EVERIFY), "VMDB_EVERIFY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values), cmocka_unit_test(test_lengths_and_splits),
        cmocka_unit_test(test_node_hash),    cmocka_unit_test(test_node_hashes_many),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
