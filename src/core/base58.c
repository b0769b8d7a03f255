/*
 * Base58 by repeated division over a byte array: quadratic, which is fine
 * for keys, signatures and hashes (32-64 bytes) and still cheap for a
 * Solana packet's instruction data (at most 1232 bytes), the longest thing
 * decoded. Leading zero bytes map to leading '1's and back, as Bitcoin and
 * Solana do. The fixed-size and the appending decoder share one loop.
 */
#include <string.h>

#include "core/error.h"
#include "vmdb/base58.h"

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

int vmdb_base58_encode(vmdb_buf *out, vmdb_slice in)
{
    uint8_t digits[1400]; /* base-58 digits, least significant first */
    size_t nd = 0, zeros = 0;
    if (in.len > 1024)
        return vmdb_error_set(VMDB_EINVAL, "base58 input too long");
    while (zeros < in.len && in.ptr[zeros] == 0)
        zeros++;
    for (size_t i = zeros; i < in.len; i++) {
        unsigned carry = in.ptr[i];
        for (size_t j = 0; j < nd; j++) {
            carry += (unsigned)digits[j] << 8;
            digits[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            digits[nd++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    int rc = vmdb_buf_reserve(out, zeros + nd);
    if (rc)
        return rc;
    for (size_t i = 0; i < zeros; i++)
        out->ptr[out->len++] = '1';
    for (size_t i = nd; i-- > 0;)
        out->ptr[out->len++] = (uint8_t)alphabet[digits[i]];
    return 0;
}

/* The value VMDB_BASE58_TEXT_MAX characters can encode, in bytes, leading
 * '1's aside: 58^1700 < 256^1245. */
#define VALUE_MAX 1245

/* The value of one base58 character, or -1. */
static int digit(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/*
 * The one decoder: counts the leading '1's of `s` (*zeros) and computes the
 * value of the rest into bytes[0..*nb), least significant byte first.
 * VMDB_EINVAL on a character outside the alphabet (checked first, wherever
 * it is), VMDB_ELIMIT as soon as *zeros + *nb would pass `limit`. The caller
 * has checked len <= VMDB_BASE58_TEXT_MAX, which bounds the work.
 */
static int decode_le(uint8_t bytes[VALUE_MAX], size_t *nb_out, size_t *zeros_out, const char *s,
                     size_t len, size_t limit)
{
    size_t nb = 0, zeros = 0;
    while (zeros < len && s[zeros] == '1')
        zeros++;
    for (size_t i = zeros; i < len; i++)
        if (digit(s[i]) < 0)
            return vmdb_error_set(VMDB_EINVAL, "invalid base58 character");
    if (zeros > limit)
        return vmdb_error_set(VMDB_ELIMIT, "base58 value longer than %zu bytes", limit);
    for (size_t i = zeros; i < len; i++) {
        unsigned carry = (unsigned)digit(s[i]);
        for (size_t j = 0; j < nb; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry) {
            if (nb == VALUE_MAX || zeros + nb == limit)
                return vmdb_error_set(VMDB_ELIMIT, "base58 value longer than %zu bytes", limit);
            bytes[nb++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    *nb_out = nb;
    *zeros_out = zeros;
    return 0;
}

/* Writes `zeros` zero bytes, then the value most significant byte first. */
static void store_be(uint8_t *out, const uint8_t *bytes, size_t nb, size_t zeros)
{
    memset(out, 0, zeros);
    for (size_t i = 0; i < nb; i++)
        out[zeros + i] = bytes[nb - 1 - i];
}

int vmdb_base58_decode(uint8_t *out, size_t n, const char *s, size_t len)
{
    uint8_t bytes[VALUE_MAX];
    size_t nb = 0, zeros = 0;
    if (len > VMDB_BASE58_TEXT_MAX)
        return vmdb_error_set(VMDB_EINVAL, "base58 text too long");
    int rc = decode_le(bytes, &nb, &zeros, s, len, n);
    if (rc == VMDB_ELIMIT || (rc == 0 && zeros + nb != n))
        return vmdb_error_set(VMDB_EINVAL, "base58 value is not %zu bytes", n);
    if (rc)
        return rc;
    store_be(out, bytes, nb, zeros);
    return 0;
}

int vmdb_base58_decode_buf(vmdb_buf *out, const char *s, size_t len)
{
    uint8_t bytes[VALUE_MAX];
    size_t nb = 0, zeros = 0;
    if (len > VMDB_BASE58_TEXT_MAX)
        return vmdb_error_set(VMDB_ELIMIT, "base58 text longer than %d characters",
                              VMDB_BASE58_TEXT_MAX);
    /* The room under the buffer's cap (0: SIZE_MAX / 2, see common.h). */
    size_t max = out->max ? out->max : SIZE_MAX / 2;
    size_t room = out->len < max ? max - out->len : 0;
    int rc = decode_le(bytes, &nb, &zeros, s, len, room);
    if (rc || zeros + nb == 0)
        return rc;
    if ((rc = vmdb_buf_reserve(out, zeros + nb)))
        return rc;
    store_be(out->ptr + out->len, bytes, nb, zeros);
    out->len += zeros + nb;
    return 0;
}
