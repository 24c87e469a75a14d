# Keccak-256 in C: keccak-f[1600] and the one-call sponge (136-byte rate), with their
# Python-level wrappers.
#
# Part of ``_mpt.pyx``, which ``include``s it: the text is compiled into that one module
# (the same C as if written there, so calls stay inlined) and uses its cimports and
# constants.  Kept apart only to keep each file short.

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>

    static const uint64_t hyp_keccak_rc[24] = {
        0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
        0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
        0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
        0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
        0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
        0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL
    };

    #define HYP_ROL(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

    /* keccak-f[1600]: lanes a[x + 5y], the five steps written out lane by lane. */
    static void hyp_keccak_f(uint64_t *a) {
        uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
        uint64_t b[25];
        int r;
        for (r = 0; r < 24; r++) {
            /* theta */
            c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20];
            c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21];
            c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22];
            c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23];
            c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24];
            d0 = c4 ^ HYP_ROL(c1, 1);
            d1 = c0 ^ HYP_ROL(c2, 1);
            d2 = c1 ^ HYP_ROL(c3, 1);
            d3 = c2 ^ HYP_ROL(c4, 1);
            d4 = c3 ^ HYP_ROL(c0, 1);
            /* rho and pi: b[y + 5((2x + 3y) mod 5)] = rot(a[x + 5y], r[x][y]) */
            b[0]  = a[0] ^ d0;
            b[10] = HYP_ROL(a[1] ^ d1, 1);
            b[20] = HYP_ROL(a[2] ^ d2, 62);
            b[5]  = HYP_ROL(a[3] ^ d3, 28);
            b[15] = HYP_ROL(a[4] ^ d4, 27);
            b[16] = HYP_ROL(a[5] ^ d0, 36);
            b[1]  = HYP_ROL(a[6] ^ d1, 44);
            b[11] = HYP_ROL(a[7] ^ d2, 6);
            b[21] = HYP_ROL(a[8] ^ d3, 55);
            b[6]  = HYP_ROL(a[9] ^ d4, 20);
            b[7]  = HYP_ROL(a[10] ^ d0, 3);
            b[17] = HYP_ROL(a[11] ^ d1, 10);
            b[2]  = HYP_ROL(a[12] ^ d2, 43);
            b[12] = HYP_ROL(a[13] ^ d3, 25);
            b[22] = HYP_ROL(a[14] ^ d4, 39);
            b[23] = HYP_ROL(a[15] ^ d0, 41);
            b[8]  = HYP_ROL(a[16] ^ d1, 45);
            b[18] = HYP_ROL(a[17] ^ d2, 15);
            b[3]  = HYP_ROL(a[18] ^ d3, 21);
            b[13] = HYP_ROL(a[19] ^ d4, 8);
            b[14] = HYP_ROL(a[20] ^ d0, 18);
            b[24] = HYP_ROL(a[21] ^ d1, 2);
            b[9]  = HYP_ROL(a[22] ^ d2, 61);
            b[19] = HYP_ROL(a[23] ^ d3, 56);
            b[4]  = HYP_ROL(a[24] ^ d4, 14);
            /* chi */
            a[0]  = b[0]  ^ (~b[1]  & b[2]);
            a[1]  = b[1]  ^ (~b[2]  & b[3]);
            a[2]  = b[2]  ^ (~b[3]  & b[4]);
            a[3]  = b[3]  ^ (~b[4]  & b[0]);
            a[4]  = b[4]  ^ (~b[0]  & b[1]);
            a[5]  = b[5]  ^ (~b[6]  & b[7]);
            a[6]  = b[6]  ^ (~b[7]  & b[8]);
            a[7]  = b[7]  ^ (~b[8]  & b[9]);
            a[8]  = b[8]  ^ (~b[9]  & b[5]);
            a[9]  = b[9]  ^ (~b[5]  & b[6]);
            a[10] = b[10] ^ (~b[11] & b[12]);
            a[11] = b[11] ^ (~b[12] & b[13]);
            a[12] = b[12] ^ (~b[13] & b[14]);
            a[13] = b[13] ^ (~b[14] & b[10]);
            a[14] = b[14] ^ (~b[10] & b[11]);
            a[15] = b[15] ^ (~b[16] & b[17]);
            a[16] = b[16] ^ (~b[17] & b[18]);
            a[17] = b[17] ^ (~b[18] & b[19]);
            a[18] = b[18] ^ (~b[19] & b[15]);
            a[19] = b[19] ^ (~b[15] & b[16]);
            a[20] = b[20] ^ (~b[21] & b[22]);
            a[21] = b[21] ^ (~b[22] & b[23]);
            a[22] = b[22] ^ (~b[23] & b[24]);
            a[23] = b[23] ^ (~b[24] & b[20]);
            a[24] = b[24] ^ (~b[20] & b[21]);
            /* iota */
            a[0] ^= hyp_keccak_rc[r];
        }
    }

    static inline uint64_t hyp_load64(const unsigned char *p) {
        return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24)
             | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
    }

    /* Keccak-256 (the original padding 0x01, not SHA3's 0x06): rate 136 bytes. */
    static void hyp_keccak256(const unsigned char *in, size_t len, unsigned char *out) {
        uint64_t st[25];
        unsigned char block[136];
        size_t i;
        memset(st, 0, sizeof st);
        while (len >= 136) {
            for (i = 0; i < 17; i++) st[i] ^= hyp_load64(in + 8 * i);
            hyp_keccak_f(st);
            in += 136;
            len -= 136;
        }
        memset(block, 0, sizeof block);
        memcpy(block, in, len);
        block[len] ^= 0x01;
        block[135] ^= 0x80;
        for (i = 0; i < 17; i++) st[i] ^= hyp_load64(block + 8 * i);
        hyp_keccak_f(st);
        for (i = 0; i < 32; i++) out[i] = (unsigned char)(st[i / 8] >> (8 * (i % 8)));
    }
    """
    void hyp_keccak256(const unsigned char *inp, size_t length, unsigned char *out) nogil


cdef inline bytes _keccak(const unsigned char *data, Py_ssize_t length):
    cdef bytes out = PyBytes_FromStringAndSize(NULL, 32)
    hyp_keccak256(data, <size_t>length, <unsigned char *>PyBytes_AS_STRING(out))
    return out


cdef inline bytes _keccak_bytes(bytes data):
    return _keccak(<const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))


def keccak256(data):
    if type(data) is bytes:
        return _keccak_bytes(<bytes>data)
    raw = bytes(data)
    return _keccak_bytes(raw)
