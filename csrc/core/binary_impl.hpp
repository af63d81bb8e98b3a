// Binary kernel bodies, compiled once per ISA: the including translation unit defines
// FP_BIN_NS (a namespace unique to it), FP_ISA (its Isa: it defines binary_table<FP_ISA>()) and,
// for the AVX2 unit, FP_BIN_AVX2. Included exactly once per translation unit.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "binary.hpp"
#include "threads.hpp"

#include "simd.hpp"

namespace fixedpoint {
namespace FP_BIN_NS {
namespace {

// Columns of the right operand visited per tile: keeps a tile of b (16 KiB of words, twice
// that as nibble planes) in L1
// while every row of a streams past it.
inline int64_t col_tile(int64_t words) { return std::max<int64_t>(4, (int64_t(1) << 11) / std::max<int64_t>(words, 1)); }

#if defined(FP_BIN_AVX2)
inline int64_t hsum64(__m256i v) {
    const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}
#endif

#if defined(FP_BIN_AVX2)
// Rows split into nibble planes (lo = x & 0x0f.., hi = (x >> 4) & 0x0f..), so that per pair the
// popcount of a ^ b is two vpshufb lookups of lo(a) ^ lo(b) and hi(a) ^ hi(b): nibble
// extraction commutes with xor and is done once per row instead of once per pair.
struct NibblePlanes {
    std::vector<uint64_t> lo, hi;
};

NibblePlanes split_nibbles(const uint64_t* x, int64_t rows, int64_t words) {
    NibblePlanes p{std::vector<uint64_t>(size_t(rows * words)), std::vector<uint64_t>(size_t(rows * words))};
    const uint64_t m = 0x0f0f0f0f0f0f0f0fULL;
    for (int64_t k = 0; k < rows * words; ++k) {
        p.lo[size_t(k)] = x[k] & m;
        p.hi[size_t(k)] = (x[k] >> 4) & m;
    }
    return p;
}

// popcount(a ^ b) for rows a0, a1 against columns b[0..3] over the first `vw` words
// (a multiple of 4), from nibble planes; counts added to c0, c1.
void xor_block_avx2(const uint64_t* al0, const uint64_t* ah0, const uint64_t* al1, const uint64_t* ah1,
                    const uint64_t* const* bl, const uint64_t* const* bh, int64_t vw, int64_t* c0, int64_t* c1) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1,
                                         2, 2, 3, 2, 3, 3, 4);
    const __m256i zero = _mm256_setzero_si256();
    int64_t w = 0;
    while (w < vw) {
        // byte counters gain at most 8 per 4-word step: flush every 31 steps (31 * 8 < 256)
        const int64_t stop = std::min(vw, w + 31 * 4);
        __m256i s00 = zero, s01 = zero, s02 = zero, s03 = zero, s10 = zero, s11 = zero, s12 = zero, s13 = zero;
        for (; w < stop; w += 4) {
#define FP_LD(p) _mm256_loadu_si256(reinterpret_cast<const __m256i*>((p) + w))
            const __m256i l0 = FP_LD(al0), h0 = FP_LD(ah0), l1 = FP_LD(al1), h1 = FP_LD(ah1);
#define FP_BIN_STEP(j, s0, s1)                                                                               \
    {                                                                                                        \
        const __m256i yl = FP_LD(bl[j]), yh = FP_LD(bh[j]);                                                  \
        s0 = _mm256_add_epi8(s0, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_xor_si256(l0, yl)),         \
                                                 _mm256_shuffle_epi8(lut, _mm256_xor_si256(h0, yh))));       \
        s1 = _mm256_add_epi8(s1, _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_xor_si256(l1, yl)),         \
                                                 _mm256_shuffle_epi8(lut, _mm256_xor_si256(h1, yh))));       \
    }
            FP_BIN_STEP(0, s00, s10)
            FP_BIN_STEP(1, s01, s11)
            FP_BIN_STEP(2, s02, s12)
            FP_BIN_STEP(3, s03, s13)
#undef FP_BIN_STEP
#undef FP_LD
        }
        c0[0] += hsum64(_mm256_sad_epu8(s00, zero)), c0[1] += hsum64(_mm256_sad_epu8(s01, zero));
        c0[2] += hsum64(_mm256_sad_epu8(s02, zero)), c0[3] += hsum64(_mm256_sad_epu8(s03, zero));
        c1[0] += hsum64(_mm256_sad_epu8(s10, zero)), c1[1] += hsum64(_mm256_sad_epu8(s11, zero));
        c1[2] += hsum64(_mm256_sad_epu8(s12, zero)), c1[3] += hsum64(_mm256_sad_epu8(s13, zero));
    }
}
#endif

void xnor_gemm(const uint64_t* a, const uint64_t* b, int64_t M, int64_t N, int64_t words, int64_t K,
               int32_t* out) {
    const int64_t pairs = (M + 1) / 2;
    const int64_t tile = col_tile(words);
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(N * words, 1));
#if defined(FP_BIN_AVX2)
    const int64_t vw = words / 4 * 4;  // words handled by the vector loop; the rest are scalar
    NibblePlanes ap, bp;
    if (vw > 0) ap = split_nibbles(a, M, words), bp = split_nibbles(b, N, words);
#else
    const int64_t vw = 0;
#endif
    parallel_for(pairs, grain, [&](int64_t p0, int64_t p1) {
        for (int64_t n0 = 0; n0 < N; n0 += tile) {
            const int64_t n1 = std::min(N, n0 + tile);
            for (int64_t p = p0; p < p1; ++p) {
                const int64_t m = 2 * p;
                const bool two = m + 1 < M;
                const int64_t r0 = m * words, r1 = two ? r0 + words : r0;  // odd M: row m twice
                for (int64_t n = n0; n < n1; n += 4) {
                    const int nb = int(std::min<int64_t>(4, n1 - n));
                    int64_t rows[4];
                    for (int j = 0; j < 4; ++j) rows[j] = (n + std::min(j, nb - 1)) * words;  // clamped
                    int64_t c0[4] = {0, 0, 0, 0}, c1[4] = {0, 0, 0, 0};
#if defined(FP_BIN_AVX2)
                    if (vw > 0) {
                        const uint64_t* bl[4] = {&bp.lo[size_t(rows[0])], &bp.lo[size_t(rows[1])],
                                                 &bp.lo[size_t(rows[2])], &bp.lo[size_t(rows[3])]};
                        const uint64_t* bh[4] = {&bp.hi[size_t(rows[0])], &bp.hi[size_t(rows[1])],
                                                 &bp.hi[size_t(rows[2])], &bp.hi[size_t(rows[3])]};
                        xor_block_avx2(&ap.lo[size_t(r0)], &ap.hi[size_t(r0)], &ap.lo[size_t(r1)],
                                       &ap.hi[size_t(r1)], bl, bh, vw, c0, c1);
                    }
#endif
                    for (int j = 0; j < nb; ++j) {
                        const uint64_t* bj = b + rows[j];
                        for (int64_t v = vw; v < words; ++v) {
                            c0[j] += std::popcount(a[r0 + v] ^ bj[v]);
                            if (two) c1[j] += std::popcount(a[r1 + v] ^ bj[v]);
                        }
                        out[m * N + n + j] = int32_t(K - 2 * c0[j]);
                        if (two) out[(m + 1) * N + n + j] = int32_t(K - 2 * c1[j]);
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

template <>
const BinaryKernelTable& binary_table<FP_ISA>() {
    static const BinaryKernelTable table{&FP_BIN_NS::xnor_gemm, &FP_BIN_NS::ternary_binary_gemm,
                                         &FP_BIN_NS::binary_weight_gemm};
    return table;
}

}  // namespace fixedpoint
