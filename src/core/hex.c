/*
 * Hex is how hashes, keys and proofs travel in JSON. Decoding is strict
 * about length so that a truncated or padded value is an error, not a
 * different hash.
 */
#include "core/error.h"

static const char hexdig[] = "0123456789abcdef";

void vmdb_hex_encode(char *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vmdb_hex_decode(uint8_t *out, size_t n, const char *hex, size_t hexlen)
{
    if (hexlen != 2 * n)
        return vmdb_error_set(VMDB_EINVAL, "hex value must be %zu characters, got %zu", 2 * n,
                              hexlen);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return vmdb_error_set(VMDB_EINVAL, "invalid hex character");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
