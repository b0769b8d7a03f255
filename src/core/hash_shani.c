/*
 * SHA-256 block compression with the x86 SHA extensions. Each of the 16
 * groups runs four rounds: two sha256rnds2 on the message words plus their
 * round constants, while sha256msg1/msg2 extend the message schedule for
 * the group four steps ahead. Verified against OpenSSL by the hasher at
 * creation, so a wrong kernel can never go unnoticed.
 */
#include "core/hash_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

bool vmdb_sha256_ni_available(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    /* SSSE3 (ecx bit 9) and SSE4.1 (ecx bit 19). */
    if (!(c & (1u << 9)) || !(c & (1u << 19)))
        return false;
    if (__get_cpuid_max(0, NULL) < 7)
        return false;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 29)) != 0;
}

static const uint32_t K[64] __attribute__((aligned(16))) = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROUNDS4(msg, i)                                                                            \
    do {                                                                                           \
        __m128i m_ = _mm_add_epi32((msg), _mm_load_si128((const __m128i *)&K[4 * (i)]));           \
        s1 = _mm_sha256rnds2_epu32(s1, s0, m_);                                                    \
        m_ = _mm_shuffle_epi32(m_, 0x0E);                                                          \
        s0 = _mm_sha256rnds2_epu32(s0, s1, m_);                                                    \
    } while (0)

/* Next four schedule words from the previous sixteen (w0 oldest). */
#define SCHED(w0, w1, w2, w3)                                                                      \
    _mm_sha256msg2_epu32(                                                                          \
        _mm_add_epi32(_mm_sha256msg1_epu32((w0), (w1)), _mm_alignr_epi8((w3), (w2), 4)), (w3))

__attribute__((target("sha,sse4.1,ssse3"))) void
vmdb_sha256_ni_blocks(uint32_t state[8], const uint8_t *data, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i t = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i s0;

    t = _mm_shuffle_epi32(t, 0xB1);    /* CDAB */
    s1 = _mm_shuffle_epi32(s1, 0x1B);  /* EFGH */
    s0 = _mm_alignr_epi8(t, s1, 8);    /* ABEF */
    s1 = _mm_blend_epi16(s1, t, 0xF0); /* CDGH */

    while (nblocks--) {
        const __m128i save0 = s0, save1 = s1;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), bswap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), bswap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), bswap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), bswap);

        ROUNDS4(w0, 0);
        ROUNDS4(w1, 1);
        ROUNDS4(w2, 2);
        ROUNDS4(w3, 3);
        for (int i = 4; i < 16; i += 4) {
            w0 = SCHED(w0, w1, w2, w3);
            ROUNDS4(w0, i);
            w1 = SCHED(w1, w2, w3, w0);
            ROUNDS4(w1, i + 1);
            w2 = SCHED(w2, w3, w0, w1);
            ROUNDS4(w2, i + 2);
            w3 = SCHED(w3, w0, w1, w2);
            ROUNDS4(w3, i + 3);
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
        data += 64;
    }

    t = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);  /* DCHG */
    s0 = _mm_blend_epi16(t, s1, 0xF0); /* DCBA */
    s1 = _mm_alignr_epi8(s1, t, 8);    /* HGFE */
    _mm_storeu_si128((__m128i *)&state[0], s0);
    _mm_storeu_si128((__m128i *)&state[4], s1);
}

/* The multi-buffer kernel: N independent messages of the same block
 * count, their rounds interleaved. sha256rnds2 has a latency of several
 * cycles but issues every cycle or two, so one message leaves the unit
 * idle most of the time; with N messages in flight the rounds of one fill
 * the others' waits. N is a compile-time constant at each call (2 or 4):
 * the loops over lanes unroll. */
#define ROUNDS4_N(msg, i)                                                                          \
    do {                                                                                           \
        const __m128i k_ = _mm_load_si128((const __m128i *)&K[4 * (i)]);                           \
        for (int j = 0; j < N; j++) {                                                              \
            __m128i m_ = _mm_add_epi32((msg)[j], k_);                                              \
            s1[j] = _mm_sha256rnds2_epu32(s1[j], s0[j], m_);                                       \
            m_ = _mm_shuffle_epi32(m_, 0x0E);                                                      \
            s0[j] = _mm_sha256rnds2_epu32(s0[j], s1[j], m_);                                       \
        }                                                                                          \
    } while (0)

#define SCHED_N(w0, w1, w2, w3)                                                                    \
    do {                                                                                           \
        for (int j = 0; j < N; j++)                                                                \
            (w0)[j] = SCHED((w0)[j], (w1)[j], (w2)[j], (w3)[j]);                                   \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3"), always_inline)) static inline void
ni_blocks_n(const int N, uint32_t *const *state, const uint8_t *const *data, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i s0[4], s1[4], save0[4], save1[4], w0[4], w1[4], w2[4], w3[4];

    for (int j = 0; j < N; j++) {
        __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[j][0]), 0xB1);
        __m128i u = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[j][4]), 0x1B);
        s0[j] = _mm_alignr_epi8(t, u, 8);
        s1[j] = _mm_blend_epi16(u, t, 0xF0);
    }
    for (size_t b = 0; b < nblocks; b++) {
        for (int j = 0; j < N; j++) {
            const uint8_t *d = data[j] + 64 * b;
            save0[j] = s0[j];
            save1[j] = s1[j];
            w0[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d + 0)), bswap);
            w1[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d + 16)), bswap);
            w2[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d + 32)), bswap);
            w3[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(d + 48)), bswap);
        }
        ROUNDS4_N(w0, 0);
        ROUNDS4_N(w1, 1);
        ROUNDS4_N(w2, 2);
        ROUNDS4_N(w3, 3);
        for (int i = 4; i < 16; i += 4) {
            SCHED_N(w0, w1, w2, w3);
            ROUNDS4_N(w0, i);
            SCHED_N(w1, w2, w3, w0);
            ROUNDS4_N(w1, i + 1);
            SCHED_N(w2, w3, w0, w1);
            ROUNDS4_N(w2, i + 2);
            SCHED_N(w3, w0, w1, w2);
            ROUNDS4_N(w3, i + 3);
        }
        for (int j = 0; j < N; j++) {
            s0[j] = _mm_add_epi32(s0[j], save0[j]);
            s1[j] = _mm_add_epi32(s1[j], save1[j]);
        }
    }
    for (int j = 0; j < N; j++) {
        __m128i t = _mm_shuffle_epi32(s0[j], 0x1B);
        __m128i u = _mm_shuffle_epi32(s1[j], 0xB1);
        _mm_storeu_si128((__m128i *)&state[j][0], _mm_blend_epi16(t, u, 0xF0));
        _mm_storeu_si128((__m128i *)&state[j][4], _mm_alignr_epi8(u, t, 8));
    }
}

__attribute__((target("sha,sse4.1,ssse3"))) void
vmdb_sha256_ni_blocks_x2(uint32_t *const state[2], const uint8_t *const data[2], size_t nblocks)
{
    ni_blocks_n(2, state, data, nblocks);
}

__attribute__((target("sha,sse4.1,ssse3"))) void
vmdb_sha256_ni_blocks_x4(uint32_t *const state[4], const uint8_t *const data[4], size_t nblocks)
{
    ni_blocks_n(4, state, data, nblocks);
}

#else

bool vmdb_sha256_ni_available(void)
{
    return false;
}

void vmdb_sha256_ni_blocks(uint32_t state[8], const uint8_t *data, size_t nblocks)
{
    (void)state;
    (void)data;
    (void)nblocks;
}

void vmdb_sha256_ni_blocks_x2(uint32_t *const state[2], const uint8_t *const data[2],
                              size_t nblocks)
{
    (void)state;
    (void)data;
    (void)nblocks;
}

void vmdb_sha256_ni_blocks_x4(uint32_t *const state[4], const uint8_t *const data[4],
                              size_t nblocks)
{
    (void)state;
    (void)data;
    (void)nblocks;
}

#endif
