// fixedpoint core: AVX2 kernels for the wide (multi-limb) path (compiled with -mavx2, chosen at
// run time by wide.cpp when the active ISA is not scalar).
#include <immintrin.h>

#include <cstdint>

namespace fixedpoint {

namespace {

// out = a +- b for n two-limb elements (both contiguous), modulo 2^128: two elements per
// 256-bit vector; the carry (borrow) of each low limb is an unsigned compare, moved into the
// high limb's lane by a byte shift within each 128-bit half.
template <bool SUB>
void addsub2(const uint64_t* a, const uint64_t* b, int64_t n, uint64_t* out) {
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i lo_lanes = _mm256_set_epi64x(0, -1, 0, -1);
    int64_t k = 0;
    for (; k + 2 <= n; k += 2) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2 * k));
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2 * k));
        __m256i s = SUB ? _mm256_sub_epi64(x, y) : _mm256_add_epi64(x, y);
        // borrow: x < y; carry: s < x (unsigned, via the sign-flipped signed compare)
        __m256i c = SUB ? _mm256_cmpgt_epi64(_mm256_xor_si256(y, sign), _mm256_xor_si256(x, sign))
                        : _mm256_cmpgt_epi64(_mm256_xor_si256(x, sign), _mm256_xor_si256(s, sign));
        c = _mm256_slli_si256(_mm256_and_si256(c, lo_lanes), 8);
        s = SUB ? _mm256_add_epi64(s, c) : _mm256_sub_epi64(s, c);  // high limb -+ 1 where c = -1
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2 * k), s);
    }
    for (; k < n; ++k) {
        const uint64_t x0 = a[2 * k], x1 = a[2 * k + 1], y0 = b[2 * k], y1 = b[2 * k + 1];
        if (SUB) {
            out[2 * k] = x0 - y0;
            out[2 * k + 1] = x1 - y1 - (x0 < y0 ? 1 : 0);
        } else {
            const uint64_t s0 = x0 + y0;
            out[2 * k] = s0;
            out[2 * k + 1] = x1 + y1 + (s0 < x0 ? 1 : 0);
        }
    }
}

}  // namespace

void wide_addsub2_avx2(const uint64_t* a, const uint64_t* b, int64_t n, bool sub, uint64_t* out) {
    if (sub)
        addsub2<true>(a, b, n, out);
    else
        addsub2<false>(a, b, n, out);
}

}  // namespace fixedpoint
