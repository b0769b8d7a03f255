/*
 * Shared vocabulary of the vmdb libraries: error codes, byte slices and the
 * growable, hard-capped buffer every encoder writes into. Every function in
 * vmdb returns 0 or a negative vmdb_err and leaves a one-line, thread-local
 * message behind for the caller to log (never to send to a client verbatim
 * when it may carry library text).
 */
#ifndef VMDB_COMMON_H
#define VMDB_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vmdb_err {
    VMDB_OK = 0,
    VMDB_ENOMEM = -1,    /* allocation failed */
    VMDB_EINVAL = -2,    /* bad argument or malformed input */
    VMDB_EPARSE = -3,    /* input is not valid JSON / encoding */
    VMDB_ERANGE = -4,    /* a number cannot be represented exactly */
    VMDB_ELIMIT = -5,    /* input exceeds a hard cap (size, depth, count) */
    VMDB_EVERIFY = -6,   /* a proof, hash or signature did not verify */
    VMDB_ENOTFOUND = -7, /* the key or item does not exist */
    VMDB_ECRYPTO = -8,   /* the crypto library failed */
    VMDB_EBUSY = -9,     /* too many versions held, or state not ready */
    VMDB_EIO = -10,      /* I/O failure (outside the pure core only) */
} vmdb_err;

/* A borrowed run of bytes. */
typedef struct vmdb_slice {
    const uint8_t *ptr;
    size_t len;
} vmdb_slice;

#define VMDB_SLICE(p, n) ((vmdb_slice){(const uint8_t *)(p), (n)})
#define VMDB_SLICE_STR(s) ((vmdb_slice){(const uint8_t *)(s), sizeof(s) - 1})

/* A growable byte buffer owned by its user. `max` is a hard cap: appends
 * that would grow past it fail with VMDB_ELIMIT (0 means SIZE_MAX/2). */
typedef struct vmdb_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    size_t max;
} vmdb_buf;

#define VMDB_BUF_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

/* Ensures room for `extra` more bytes. 0, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_buf_reserve(vmdb_buf *b, size_t extra);
/* Appends bytes. 0, VMDB_ENOMEM or VMDB_ELIMIT; on error `b` is unchanged. */
int vmdb_buf_put(vmdb_buf *b, const void *p, size_t n);
int vmdb_buf_putc(vmdb_buf *b, uint8_t c);
/* Releases the memory (accepts NULL) and resets to empty. */
void vmdb_buf_free(vmdb_buf *b);

/* The message of the last error on this thread ("" if none). Valid until the
 * next vmdb call on this thread. */
const char *vmdb_error_last(void);
/* Symbolic name of an error code, e.g. "VMDB_EVERIFY". */
const char *vmdb_error_name(int err);

/* Lower-case hex of `n` bytes into `out` (2n+1 bytes, NUL-terminated). */
void vmdb_hex_encode(char *out, const uint8_t *in, size_t n);
/* Decodes exactly `n` bytes from 2n hex characters (either case).
 * 0 or VMDB_EINVAL. */
int vmdb_hex_decode(uint8_t *out, size_t n, const char *hex, size_t hexlen);

#ifdef __cplusplus
}
#endif
#endif
