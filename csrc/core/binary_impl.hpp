// Binary kernel bodies, compiled once per ISA: the including translation unit defines
// FP_BIN_NS (a namespace unique to it), FP_BIN_TABLE_FN (the table accessor it defines) and,
// for the AVX2 unit, FP_BIN_AVX2. Included exactly once per translation unit.
#include <algorithm>
#include <bit>
#include <cstdint>

#include "binary.hpp"
#include "threads.hpp"

#if defined(FP_BIN_AVX2)
#include <immintrin.h>
#endif

namespace fixedpoint {
namespace FP_BIN_NS {
namespace {

// Columns of the right operand visited per tile: keeps a tile of b (about 64 KiB) in L2
// while every row of a streams past it.
inline int64_t col_tile(int64_t words) { return std::max<int64_t>(4, (int64_t(1) << 13) / std::max<int64_t>(words, 1)); }

#if defined(FP_BIN_AVX2)
inline __m256i popcount_bytes(__m256i v) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2,
                                         2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
    const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    return _mm256_add_epi8(lo, hi);
}
inline int64_t hsum64(__m256i v) {
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}
#endif

// popcount(a[m] ^ b[n]) for rows m0, m0+1 (when two) against columns n0..n0+3 (nb <= 4).
void xor_block(const uint64_t* a0, const uint64_t* a1, const uint64_t* const* bs, int nb, int64_t words,
               int64_t* cnt0, int64_t* cnt1) {
    int64_t w = 0;
    for (int j = 0; j < 4; ++j) cnt0[j] = cnt1[j] = 0;
#if defined(FP_BIN_AVX2)
    if (nb == 4 && a1 != nullptr) {
        const __m256i zero = _mm256_setzero_si256();
        __m256i s00 = zero, s01 = zero, s02 = zero, s03 = zero, s10 = zero, s11 = zero, s12 = zero, s13 = zero;
        for (; w + 4 <= words; w += 4) {
            const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a0 + w));
            const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a1 + w));
#define FP_BIN_STEP(j, s0, s1)                                                                  \
    {                                                                                           \
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bs[j] + w));      \
        s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(popcount_bytes(_mm256_xor_si256(x0, y)), zero)); \
        s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(popcount_bytes(_mm256_xor_si256(x1, y)), zero)); \
    }
            FP_BIN_STEP(0, s00, s10)
            FP_BIN_STEP(1, s01, s11)
            FP_BIN_STEP(2, s02, s12)
            FP_BIN_STEP(3, s03, s13)
#undef FP_BIN_STEP
        }
        cnt0[0] = hsum64(s00), cnt0[1] = hsum64(s01), cnt0[2] = hsum64(s02), cnt0[3] = hsum64(s03);
        cnt1[0] = hsum64(s10), cnt1[1] = hsum64(s11), cnt1[2] = hsum64(s12), cnt1[3] = hsum64(s13);
    }
#endif
    for (int j = 0; j < nb; ++j) {
        for (int64_t v = w; v < words; ++v) {
            cnt0[j] += std::popcount(a0[v] ^ bs[j][v]);
            if (a1 != nullptr) cnt1[j] += std::popcount(a1[v] ^ bs[j][v]);
        }
    }
}

void xnor_gemm(const uint64_t* a, const uint64_t* b, int64_t M, int64_t N, int64_t words, int64_t K,
               int32_t* out) {
    const int64_t pairs = (M + 1) / 2;
    const int64_t tile = col_tile(words);
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(N * words, 1));
    parallel_for(pairs, grain, [&](int64_t p0, int64_t p1) {
        int64_t c0[4], c1[4];
        for (int64_t n0 = 0; n0 < N; n0 += tile) {
            const int64_t n1 = std::min(N, n0 + tile);
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t m = 2 * p;
                const uint64_t* a0 = a + m * words;
                const uint64_t* a1 = m + 1 < M ? a0 + words : nullptr;
                for (int64_t n = n0; n < n1; n += 4) {
                    const int nb = int(std::min<int64_t>(4, n1 - n));
                    const uint64_t* bs[4];
                    for (int j = 0; j < 4; ++j) bs[j] = b + (n + std::min(j, nb - 1)) * words;
                    xor_block(a0, a1, bs, nb, words, c0, c1);
                    for (int j = 0; j < nb; ++j) {
                        out[m * N + n + j] = int32_t(K - 2 * c0[j]);
                        if (a1 != nullptr) out[(m + 1) * N + n + j] = int32_t(K - 2 * c1[j]);
                    }
                }
            }
        }
    });
}

void ternary_binary_gemm(const uint64_t* tm, const uint64_t* tp, const uint64_t* b, int64_t M, int64_t N,
                         int64_t words, int32_t* out) {
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(N * words, 1));
    parallel_for(M, grain, [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) {
            const uint64_t* mm = tm + m * words;
            const uint64_t* pp = tp + m * words;
            int64_t nz = 0;
            for (int64_t v = 0; v < words; ++v) nz += std::popcount(mm[v]);
            for (int64_t n = 0; n < N; ++n) {
                const uint64_t* bb = b + n * words;
                int64_t d = 0;
                for (int64_t v = 0; v < words; ++v) d += std::popcount(mm[v] & (pp[v] ^ bb[v]));
                out[m * N + n] = int32_t(nz - 2 * d);
            }
        }
    });
}

void binary_weight_gemm(const int64_t* x, const uint64_t* w, int64_t M, int64_t N, int64_t K, int64_t words,
                        int64_t* out) {
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(N * K, 1));
    parallel_for(M, grain, [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) {
            const int64_t* xr = x + m * K;
            for (int64_t n = 0; n < N; ++n) {
                const uint64_t* wr = w + n * words;
                int64_t acc = 0;
                for (int64_t v = 0; v < words; ++v) {
                    const uint64_t bits = wr[v];
                    const int64_t kb = v * 64;
                    const int nbit = int(std::min<int64_t>(64, K - kb));
                    for (int t = 0; t < nbit; ++t) {
                        // bit 1: +x; bit 0: (x ^ -1) + 1 = -x (two's complement, no branch).
                        const int64_t neg = int64_t((bits >> t) & 1u) - 1;
                        acc += (xr[kb + t] ^ neg) - neg;
                    }
                }
                out[m * N + n] = acc;
            }
        }
    });
}

}  // namespace
}  // namespace FP_BIN_NS

const BinaryKernelTable& FP_BIN_TABLE_FN() {
    static const BinaryKernelTable table{&FP_BIN_NS::xnor_gemm, &FP_BIN_NS::ternary_binary_gemm,
                                         &FP_BIN_NS::binary_weight_gemm};
    return table;
}

}  // namespace fixedpoint
