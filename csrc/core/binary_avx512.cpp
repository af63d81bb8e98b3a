// Binary and ternary kernels for the avx512_vnni level (its flags include AVX512-VPOPCNTDQ):
// 512-bit xor / and + vpopcntq, register-blocked 4 rows x 4 columns, the right operand visited in
// column tiles that stay in L1. Same contract as binary_impl.hpp (see binary.hpp).
#define FP_ISA_NS binary_avx512_vnni  // before any include: see isa_ns.hpp
#define FP_ISA Isa::avx512_vnni
#include "simd.hpp"

#if !defined(FP_AVX512_VNNI)
#error "binary_avx512.cpp needs the avx512_vnni flags (or the SIMDe build): see CMakeLists.txt"
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "binary.hpp"
#include "threads.hpp"

namespace fixedpoint {
namespace bin_avx512_vnni {
namespace {

constexpr int64_t kRows = 4, kCols = 4;  // register block: 16 accumulators

inline int64_t hsum(__m512i v) {
    const __m256i s = _mm256_add_epi64(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    const __m128i t = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return _mm_cvtsi128_si64(t) + _mm_extract_epi64(t, 1);
}

// rows x words packed bits copied with the word count rounded up to 8 (one zmm), zero-padded:
// padding words are 0 in every operand, so they add nothing to any count.
std::vector<uint64_t> pad8(const uint64_t* x, int64_t rows, int64_t words, int64_t w8) {
    std::vector<uint64_t> p(size_t(std::max<int64_t>(1, rows * w8)), 0);
    for (int64_t r = 0; r < rows; ++r) std::memcpy(&p[size_t(r * w8)], x + r * words, size_t(words) * 8);
    return p;
}

// Columns of the right operand per tile: about 32 KiB of its rows stay in L1 while the rows of
// the left operand stream past.
inline int64_t col_tile(int64_t w8) { return std::max<int64_t>(kCols, ((int64_t(1) << 12) / w8) / kCols * kCols); }

// counts[r][c] = popcount(f(a_r, b_c)) over w8 words for 4 rows and 4 columns, where f is
// a ^ b (TERNARY false) or m & (p ^ b) (TERNARY true: a holds the masks m, a2 the signs p).
template <bool TERNARY>
inline void block(const uint64_t* const* a, const uint64_t* const* a2, const uint64_t* const* b, int64_t w8,
                  int64_t counts[kRows][kCols]) {
    __m512i acc[kRows][kCols];
    for (int r = 0; r < kRows; ++r)
        for (int c = 0; c < kCols; ++c) acc[r][c] = _mm512_setzero_si512();
    for (int64_t w = 0; w < w8; w += 8) {
        __m512i bv[kCols];
        for (int c = 0; c < kCols; ++c) bv[c] = _mm512_loadu_si512(b[c] + w);
        for (int r = 0; r < kRows; ++r) {
            const __m512i av = _mm512_loadu_si512(a[r] + w);
            if constexpr (TERNARY) {
                const __m512i pv = _mm512_loadu_si512(a2[r] + w);
                for (int c = 0; c < kCols; ++c)
                    acc[r][c] = _mm512_add_epi64(
                        acc[r][c], _mm512_popcnt_epi64(_mm512_and_si512(av, _mm512_xor_si512(pv, bv[c]))));
            } else {
                for (int c = 0; c < kCols; ++c)
                    acc[r][c] = _mm512_add_epi64(acc[r][c], _mm512_popcnt_epi64(_mm512_xor_si512(av, bv[c])));
            }
        }
    }
    for (int r = 0; r < kRows; ++r)
        for (int c = 0; c < kCols; ++c) counts[r][c] = hsum(acc[r][c]);
}

// out[m * N + n] = base[m] - 2 * count(m, n) over 4 x 4 blocks (ragged edges clamp the row and
// column indices and store only the valid entries).
template <bool TERNARY>
void blocked(const uint64_t* a, const uint64_t* a2, const uint64_t* b, int64_t M, int64_t N, int64_t w8,
             const int64_t* base, int64_t K, int32_t* out) {
    const int64_t groups = (M + kRows - 1) / kRows;
    const int64_t tile = col_tile(w8);
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(N * w8, 1));
    parallel_for(groups, grain, [&](int64_t g0, int64_t g1) {
        for (int64_t n0 = 0; n0 < N; n0 += tile) {
            const int64_t n1 = std::min(N, n0 + tile);
            for (int64_t g = g0; g < g1; ++g) {
                const int64_t m = g * kRows;
                const int64_t nr = std::min(kRows, M - m);
                const uint64_t* ar[kRows];
                const uint64_t* ar2[kRows];
                for (int r = 0; r < kRows; ++r) {
                    const int64_t row = m + std::min<int64_t>(r, nr - 1);
                    ar[r] = a + row * w8;
                    ar2[r] = TERNARY ? a2 + row * w8 : nullptr;
                }
                for (int64_t n = n0; n < n1; n += kCols) {
                    const int64_t nc = std::min(kCols, n1 - n);
                    const uint64_t* bc[kCols];
                    for (int c = 0; c < kCols; ++c) bc[c] = b + (n + std::min<int64_t>(c, nc - 1)) * w8;
                    int64_t cnt[kRows][kCols];
                    block<TERNARY>(ar, ar2, bc, w8, cnt);
                    for (int64_t r = 0; r < nr; ++r)
                        for (int64_t c = 0; c < nc; ++c)
                            out[(m + r) * N + n + c] = int32_t((TERNARY ? base[m + r] : K) - 2 * cnt[r][c]);
                }
            }
        }
    });
}

void xnor_gemm(const uint64_t* a, const uint64_t* b, int64_t M, int64_t N, int64_t words, int64_t K, int32_t* out) {
    if (M == 0 || N == 0) return;
    const int64_t w8 = std::max<int64_t>(8, (words + 7) / 8 * 8);
    const std::vector<uint64_t> ap = pad8(a, M, words, w8), bp = pad8(b, N, words, w8);
    blocked<false>(ap.data(), nullptr, bp.data(), M, N, w8, nullptr, K, out);
}

void ternary_binary_gemm(const uint64_t* tm, const uint64_t* tp, const uint64_t* b, int64_t M, int64_t N,
                         int64_t words, int32_t* out) {
    if (M == 0 || N == 0) return;
    const int64_t w8 = std::max<int64_t>(8, (words + 7) / 8 * 8);
    const std::vector<uint64_t> mp = pad8(tm, M, words, w8), pp = pad8(tp, M, words, w8), bp = pad8(b, N, words, w8);
    std::vector<int64_t> nz(size_t(M), 0);  // nonzeros per ternary row
    for (int64_t m = 0; m < M; ++m) {
        __m512i s = _mm512_setzero_si512();
        for (int64_t w = 0; w < w8; w += 8) s = _mm512_add_epi64(s, _mm512_popcnt_epi64(_mm512_loadu_si512(&mp[size_t(m * w8 + w)])));
        nz[size_t(m)] = hsum(s);
    }
    blocked<true>(mp.data(), pp.data(), bp.data(), M, N, w8, nz.data(), 0, out);
}

// out[m, n] = sum_k (bit k of w[n] ? x[m, k] : -x[m, k]): 8 activations per zmm, the weight
// bits as a blend mask, 4 weight rows per pass over an activation row.
void binary_weight_gemm(const int64_t* x, const uint64_t* w, int64_t M, int64_t N, int64_t K, int64_t words,
                        int64_t* out) {
    const int64_t K8 = K / 8 * 8;
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(N * K, 1));
    parallel_for(M, grain, [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m) {
            const int64_t* xr = x + m * K;
            for (int64_t n = 0; n < N; n += kCols) {
                const int64_t nc = std::min(kCols, N - n);
                const uint64_t* wr[kCols];
                for (int c = 0; c < kCols; ++c) wr[c] = w + (n + std::min<int64_t>(c, nc - 1)) * words;
                __m512i acc[kCols];
                for (int c = 0; c < kCols; ++c) acc[c] = _mm512_setzero_si512();
                for (int64_t k = 0; k < K8; k += 8) {
                    const __m512i xv = _mm512_loadu_si512(xr + k);
                    const __m512i nx = _mm512_sub_epi64(_mm512_setzero_si512(), xv);
                    for (int c = 0; c < kCols; ++c) {
                        const __mmask8 bits = __mmask8((wr[c][k / 64] >> (k % 64)) & 0xFFu);
                        acc[c] = _mm512_add_epi64(acc[c], _mm512_mask_blend_epi64(bits, nx, xv));
                    }
                }
                for (int64_t c = 0; c < nc; ++c) {
                    uint64_t s = uint64_t(hsum(acc[c]));  // wrapping sums: exact for results in int64
                    for (int64_t k = K8; k < K; ++k) {
                        const uint64_t v = uint64_t(xr[k]);
                        s += (wr[c][k / 64] >> (k % 64)) & 1u ? v : uint64_t(0) - v;
                    }
                    out[m * N + n + c] = int64_t(s);
                }
            }
        }
    });
}

}  // namespace
}  // namespace bin_avx512_vnni

template <>
const BinaryKernelTable& binary_table<Isa::avx512_vnni>() {
    static const BinaryKernelTable table{&bin_avx512_vnni::xnor_gemm, &bin_avx512_vnni::ternary_binary_gemm,
                                         &bin_avx512_vnni::binary_weight_gemm};
    return table;
}

}  // namespace fixedpoint
