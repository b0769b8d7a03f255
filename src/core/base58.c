/*
 * Base58 by repeated division over a byte array: quadratic, which is fine
 * for keys, signatures and hashes (32-64 bytes). Leading zero bytes map to
 * leading '1's and back, as Bitcoin and Solana do.
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

int vmdb_base58_decode(uint8_t *out, size_t n, const char *s, size_t len)
{
    uint8_t bytes[1024]; /* little-endian value */
    size_t nb = 0, zeros = 0;
    if (len > 1400 || n > sizeof bytes)
        return vmdb_error_set(VMDB_EINVAL, "base58 text too long");
    while (zeros < len && s[zeros] == '1')
        zeros++;
    for (size_t i = zeros; i < len; i++) {
        const char *p = s[i] ? strchr(alphabet, s[i]) : NULL;
        if (!p)
            return vmdb_error_set(VMDB_EINVAL, "invalid base58 character");
        unsigned carry = (unsigned)(p - alphabet);
        for (size_t j = 0; j < nb; j++) {
            carry += (unsigned)bytes[j] * 58;
            bytes[j] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
        while (carry) {
            if (nb == sizeof bytes)
                return vmdb_error_set(VMDB_EINVAL, "base58 value too large");
            bytes[nb++] = (uint8_t)(carry & 0xff);
            carry >>= 8;
        }
    }
    if (zeros + nb != n)
        return vmdb_error_set(VMDB_EINVAL, "base58 value is not %zu bytes", n);
    memset(out, 0, zeros);
    for (size_t i = 0; i < nb; i++)
        out[zeros + i] = bytes[nb - 1 - i];
    return 0;
}
