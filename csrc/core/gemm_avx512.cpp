// Exact int8 / int16 GEMM, CSR and BSR kernels with AVX-512 VNNI (vpdpbusd, vpdpwssd), for the
// avx512_vnni level (see gemm_avx512.hpp). Packing uses AVX2 (always enabled with these flags);
// the micro-kernels use 512-bit registers: R rows x 32 columns, two zmm of int32 per row.
//
// Exactness. vpdpwssd adds two int16 x int16 products to an int32 lane and vpdpbusd four
// u8 x s8 products, both wrapping (not saturating). The int32 lanes are widened into int64
// before they can overflow: int16 after at most `pairs` pairs (gemm_i16_pairs: every partial
// sum stays within 2^31 - 1), int8 after at most kWordBlock quads (each product
// |(x + 128) * w| <= 255 * 128, so a lane stays below 128 * 4 * 255 * 128 < 2^31).
#define FP_ISA_NS gemm_avx512_vnni  // before any include: see isa_ns.hpp
#define FP_ISA Isa::avx512_vnni
#include "simd.hpp"

#if !defined(FP_AVX512_VNNI)
#error "gemm_avx512.cpp needs the avx512_vnni flags (or the SIMDe build): see CMakeLists.txt"
#endif

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "gemm.hpp"
#include "gemm_avx512.hpp"
#include "gemm_kernels.hpp"
#include "threads.hpp"

namespace fixedpoint {

namespace {

constexpr int64_t kT = kVnniTile;   // columns per micro-tile
constexpr int64_t kRowBlock = 64;   // rows of A per cache block
constexpr int64_t kWordBlock = 128;  // words per cache block: a 16 KiB panel of B per tile

// 8 int64 -> their low 32 bits, in order (AVX2).
inline __m256i low32x8(const int64_t* src) {
    const __m256i lo_idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i p0 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), lo_idx);
    const __m256i p1 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 4)), lo_idx);
    return _mm256_permute2x128_si256(p0, p1, 0x20);
}

// The int32 lanes of a0 (columns 0-15) and a1 (16-31) minus corr, widened into int64 and stored
// into c (add=false) or added to it (add=true); ncols < 32 handles a ragged last tile.
inline void widen_row(__m512i a0, __m512i a1, int64_t* c, int64_t ncols, bool add, int64_t corr) {
    const __m256i h[4] = {_mm512_castsi512_si256(a0), _mm512_extracti64x4_epi64(a0, 1), _mm512_castsi512_si256(a1),
                          _mm512_extracti64x4_epi64(a1, 1)};
    const __m256i cv = _mm256_set1_epi64x(corr);
    __m256i w[8];
    for (int q = 0; q < 4; ++q) {
        w[2 * q] = _mm256_sub_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(h[q])), cv);
        w[2 * q + 1] = _mm256_sub_epi64(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(h[q], 1)), cv);
    }
    if (ncols == kT) {
        for (int q = 0; q < 8; ++q) {
            __m256i v = w[q];
            if (add) v = _mm256_add_epi64(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 4 * q)));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 4 * q), v);
        }
    } else {
        alignas(32) int64_t t[kT];
        for (int q = 0; q < 8; ++q) _mm256_store_si256(reinterpret_cast<__m256i*>(t + 4 * q), w[q]);
        for (int64_t j = 0; j < ncols; ++j) c[j] = add ? c[j] + t[j] : t[j];
    }
}

// acc += the products of the broadcast weight word av and the packed word vector x.
template <bool I8>
inline __m512i dot(__m512i acc, __m512i av, __m512i x) {
    if constexpr (I8)
        return _mm512_dpbusd_epi32(acc, x, av);  // x: unsigned (offset) bytes, av: signed bytes
    else
        return _mm512_dpwssd_epi32(acc, av, x);
}

// R rows of packed A words (row stride lda) times a (np words x 32 columns) panel of B.
template <int R, bool I8>
inline void micro(const int32_t* aw, int64_t lda, const int32_t* bp, int64_t np, int64_t* c, int64_t ldc,
                  int64_t ncols, bool add, const int64_t* corr) {
    __m512i acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int64_t p = 0; p < np; ++p) {
        const __m512i b0 = _mm512_loadu_si512(bp + p * kT);
        const __m512i b1 = _mm512_loadu_si512(bp + p * kT + 16);
        for (int r = 0; r < R; ++r) {
            const __m512i av = _mm512_set1_epi32(aw[r * lda + p]);
            acc[r][0] = dot<I8>(acc[r][0], av, b0);
            acc[r][1] = dot<I8>(acc[r][1], av, b1);
        }
    }
    for (int r = 0; r < R; ++r) widen_row(acc[r][0], acc[r][1], c + r * ldc, ncols, add, corr && !add ? corr[r] : 0);
}

template <bool I8>
inline void micro_rows(int64_t R, const int32_t* aw, int64_t lda, const int32_t* bp, int64_t np, int64_t* c,
                       int64_t ldc, int64_t ncols, bool add, const int64_t* corr) {
    switch (R) {
        case 8: micro<8, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
        case 7: micro<7, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
        case 6: micro<6, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
        case 5: micro<5, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
        case 4: micro<4, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
        case 3: micro<3, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
        case 2: micro<2, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
        default: micro<1, I8>(aw, lda, bp, np, c, ldc, ncols, add, corr); break;
    }
}

// One row of A (K int64 values) as KW words; returns the row's sum (for the int8 correction).
template <bool I8>
inline int64_t pack_a_row(const int64_t* src, int64_t K, int64_t KW, int32_t* dst) {
    constexpr int64_t per = I8 ? 4 : 2;
    int64_t sum = 0;
    for (int64_t p = 0; p < KW; ++p) {
        uint32_t w = 0;
        for (int64_t q = 0; q < per; ++q) {
            const int64_t k = p * per + q;
            const int64_t v = k < K ? src[k] : 0;
            sum += v;
            w |= (I8 ? uint32_t(uint8_t(int8_t(v))) : uint32_t(uint16_t(int16_t(v)))) << (q * (32 / per));
        }
        dst[p] = int32_t(w);
    }
    return sum;
}

template <bool I8>
void gemm_dense(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t wmax, int64_t* out) {
    constexpr int64_t per = I8 ? 4 : 2;
    const int64_t KW = (K + per - 1) / per;  // words per row of A
    const int64_t Nt = (N + kT - 1) / kT;     // column tiles
    std::unique_ptr<int32_t[]> ap(new int32_t[size_t(M * KW)]);
    std::unique_ptr<int64_t[]> corr(new int64_t[size_t(I8 ? M : 1)]);
    parallel_for(M, std::max<int64_t>(64, (int64_t(1) << 17) / std::max<int64_t>(1, K)), [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            const int64_t s = pack_a_row<I8>(a + i * K, K, KW, ap.get() + i * KW);
            if (I8) corr[size_t(i)] = 128 * s;
        }
    });
    // B layout: [column tile t][word p][32 columns]: one micro-kernel call reads its panel contiguously
    std::unique_ptr<int32_t[]> bpk(new int32_t[size_t(Nt * KW * kT)]);
    parallel_for(KW, std::max<int64_t>(16, (int64_t(1) << 16) / std::max<int64_t>(1, N)), [&](int64_t p0, int64_t p1) {
        pack_words_avx512(b, K, N, I8, per, KW, p0, p1, bpk.get());
    });
    const int64_t pb = std::max<int64_t>(1, std::min(wmax, kWordBlock));
    parallel_for(M, std::max<int64_t>(8, (int64_t(1) << 22) / std::max<int64_t>(1, K * N)), [&](int64_t r0, int64_t r1) {
        for (int64_t i0 = r0; i0 < r1; i0 += kRowBlock) {  // A block (rows x pb words) stays in L2
            const int64_t i1 = std::min(r1, i0 + kRowBlock);
            for (int64_t p0 = 0; p0 < KW; p0 += pb) {
                const int64_t np = std::min(pb, KW - p0);
                const bool add = p0 > 0;  // the first word block stores, the later ones add
                for (int64_t t = 0; t < Nt; ++t) {  // the tile's B panel stays in L1 across the rows
                    const int64_t j = t * kT;
                    const int64_t nc = std::min(kT, N - j);
                    const int32_t* bpr = bpk.get() + (t * KW + p0) * kT;
                    for (int64_t i = i0; i < i1; i += 8) {
                        micro_rows<I8>(std::min<int64_t>(8, i1 - i), ap.get() + i * KW + p0, KW, bpr, np,
                                       out + i * N + j, N, nc, add, I8 ? corr.get() + i : nullptr);
                    }
                }
            }
        }
    });
}

// BSR: RR rows of one block row times a 32-column tile over the stored blocks t0..t1 (at most
// the caller's `flush` blocks, so the int32 lanes cannot overflow).
template <int RR, int CW, bool I8>
inline void bsr_group(const int64_t* indices, int64_t t0, int64_t t1, const int32_t* wp, int64_t R, int64_t cw_rt,
                      const int32_t* xp, int64_t pstride, int64_t pstep, int64_t* c, int64_t ldc, int64_t ncols,
                      bool add, const int64_t* corr) {
    const int64_t Cw = CW > 0 ? CW : cw_rt;
    __m512i acc[RR][2];
    for (int r = 0; r < RR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int64_t t = t0; t < t1; ++t) {
        const int32_t* xb = xp + indices[t] * pstride * kT;
        const int32_t* w = wp + t * R * Cw;
        for (int64_t p = 0; p < Cw; ++p) {
            const int32_t* xr = xb + p * pstep * kT;
            const __m512i b0 = _mm512_loadu_si512(xr);
            const __m512i b1 = _mm512_loadu_si512(xr + 16);
            for (int r = 0; r < RR; ++r) {
                const __m512i av = _mm512_set1_epi32(w[r * Cw + p]);
                acc[r][0] = dot<I8>(acc[r][0], av, b0);
                acc[r][1] = dot<I8>(acc[r][1], av, b1);
            }
        }
    }
    for (int r = 0; r < RR; ++r) widen_row(acc[r][0], acc[r][1], c + r * ldc, ncols, add, corr && !add ? corr[r] : 0);
}

template <int RR, int CW, bool I8>
inline void bsr_row(const int64_t* indices, int64_t t0, int64_t t1, const int32_t* wp, int64_t R, int64_t cw,
                    const int32_t* xp, int64_t pstride, int64_t pstep, int64_t flush, int64_t* c, int64_t ldc,
                    int64_t ncols, const int64_t* corr) {
    int64_t t = t0;
    do {  // groups of at most `flush` blocks: the first stores (an empty row stores zeros), the later add
        const int64_t te = std::min(t1, t + flush);
        bsr_group<RR, CW, I8>(indices, t, te, wp, R, cw, xp, pstride, pstep, c, ldc, ncols, t > t0, corr);
        t = te;
    } while (t < t1);
}

template <int CW, bool I8>
inline void bsr_rows(int64_t rr, const int64_t* indices, int64_t t0, int64_t t1, const int32_t* wp, int64_t R,
                     int64_t cw, const int32_t* xp, int64_t pstride, int64_t pstep, int64_t flush, int64_t* c,
                     int64_t ldc, int64_t ncols, const int64_t* corr) {
    switch (rr) {
        case 8: bsr_row<8, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
        case 7: bsr_row<7, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
        case 6: bsr_row<6, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
        case 5: bsr_row<5, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
        case 4: bsr_row<4, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
        case 3: bsr_row<3, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
        case 2: bsr_row<2, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
        default: bsr_row<1, CW, I8>(indices, t0, t1, wp, R, cw, xp, pstride, pstep, flush, c, ldc, ncols, corr); break;
    }
}

template <bool I8>
void bsr(const int64_t* indptr, const int64_t* indices, const int32_t* wp, int64_t Mb, int64_t R, int64_t Cw,
         const int32_t* xp, int64_t P, int64_t pstride, int64_t pstep, int64_t N, int64_t flush, const int64_t* corr,
         int64_t* out) {
    const int64_t Nt = (N + kT - 1) / kT;
    const int64_t per_row = std::max<int64_t>(1, indptr[Mb] / std::max<int64_t>(1, Mb)) * R * Cw;
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, per_row * N));
    parallel_for(Mb, grain, [&](int64_t b0, int64_t b1) {
        // Tiles outermost: one tile of x (P word rows x 32 columns) stays in cache while every
        // block row of this task reads its scattered word rows from it.
        for (int64_t t = 0; t < Nt; ++t) {
            const int64_t j = t * kT;
            const int64_t ncols = std::min(kT, N - j);
            const int32_t* xt = xp + t * P * kT;
            for (int64_t ib = b0; ib < b1; ++ib) {
                const int64_t t0 = indptr[ib], t1 = indptr[ib + 1];
                for (int64_t g = 0; g < R; g += 8) {
                    const int64_t rr = std::min<int64_t>(8, R - g);
                    const int32_t* wg = wp + g * Cw;  // row g of every block: wg + t * R * Cw
                    int64_t* c = out + (ib * R + g) * N + j;
                    const int64_t* cr = corr ? corr + ib * R + g : nullptr;
                    switch (Cw) {  // words per block row: 1 for 4x4 int8 blocks, 2 for 4x4 int16
                        case 1: bsr_rows<1, I8>(rr, indices, t0, t1, wg, R, Cw, xt, pstride, pstep, flush, c, N, ncols, cr); break;
                        case 2: bsr_rows<2, I8>(rr, indices, t0, t1, wg, R, Cw, xt, pstride, pstep, flush, c, N, ncols, cr); break;
                        case 4: bsr_rows<4, I8>(rr, indices, t0, t1, wg, R, Cw, xt, pstride, pstep, flush, c, N, ncols, cr); break;
                        default: bsr_rows<0, I8>(rr, indices, t0, t1, wg, R, Cw, xt, pstride, pstep, flush, c, N, ncols, cr); break;
                    }
                }
            }
        }
    });
}

}  // namespace

void pack_words_avx512(const int64_t* x, int64_t K, int64_t N, bool i8, int64_t step, int64_t P, int64_t q0,
                       int64_t q1, int32_t* xp) {
    const int64_t Nt = (N + kT - 1) / kT;
    const int per = i8 ? 4 : 2;
    const __m256i off = _mm256_set1_epi32(int32_t(0x80808080u));
    const __m256i m8 = _mm256_set1_epi32(0xFF), m16 = _mm256_set1_epi32(0xFFFF);
    for (int64_t q = q0; q < q1; ++q) {
        const int64_t s = q * step;
        const int64_t* rows[4];
        for (int b = 0; b < per; ++b) rows[b] = s + b < K ? x + (s + b) * N : nullptr;
        for (int64_t t = 0; t < Nt; ++t) {
            int32_t* dst = xp + (t * P + q) * kT;
            const int64_t j0 = t * kT, nc = std::min(kT, N - j0);
            int64_t j = 0;
            for (; j + 8 <= nc; j += 8) {
                __m256i w = _mm256_setzero_si256();
                for (int b = 0; b < per; ++b) {
                    if (!rows[b]) continue;
                    const __m256i v = _mm256_and_si256(low32x8(rows[b] + j0 + j), i8 ? m8 : m16);
                    w = _mm256_or_si256(w, _mm256_sllv_epi32(v, _mm256_set1_epi32(b * (32 / per))));
                }
                if (i8) w = _mm256_xor_si256(w, off);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), w);
            }
            for (; j < kT; ++j) {
                uint32_t w = 0;
                for (int b = 0; b < per; ++b) {
                    const int64_t v = j < nc && rows[b] ? rows[b][j0 + j] : 0;
                    w |= (i8 ? uint32_t(uint8_t(int8_t(v)) ^ 0x80u) : uint32_t(uint16_t(int16_t(v)))) << (b * (32 / per));
                }
                dst[j] = int32_t(w);
            }
        }
    }
}

void gemm_i16_avx512(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t pairs,
                     int64_t* out) {
    gemm_dense<false>(a, b, M, K, N, pairs, out);
}

void gemm_i8_avx512(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t* out) {
    gemm_dense<true>(a, b, M, K, N, kWordBlock, out);
}

int gemm_bsr_avx512(const int64_t* indptr, const int64_t* indices, const int64_t* blocks, int64_t Mb, int64_t R,
                    int64_t C, int64_t K, const int64_t* x, int64_t N, int64_t* out) {
    const int64_t nnzb = indptr[Mb];
    if (nnzb == 0 || C == 0 || R == 0) return 0;
    int64_t wlo, whi, xlo, xhi;
    min_max_i64(blocks, nnzb * R * C, &wlo, &whi);
    min_max_i64(x, K * N, &xlo, &xhi);
    const bool i8 = C % 4 == 0 && wlo >= -128 && whi <= 127 && xlo >= -128 && xhi <= 127;
    int64_t flush;  // blocks an int32 lane may sum before it is widened
    if (i8) {
        flush = ((int64_t(1) << 31) - 1) / (C * 255 * 128);  // |(x + 128) * w| <= 255 * 128
    } else {
        if (wlo < -32767 || whi > 32767 || xlo < -32767 || xhi > 32767) return 0;
        const int64_t pairs = gemm_i16_pairs(std::max(whi, -wlo), std::max(xhi, -xlo));
        if (pairs < (C + 1) / 2) return 0;
        flush = pairs / ((C + 1) / 2);
    }
    flush = std::max<int64_t>(1, flush);
    const int per = i8 ? 4 : 2;
    const int64_t Cw = (C + per - 1) / per;  // words per block row
    // weights: one int32 word per (block, row, word); i8 also the per-row correction
    std::vector<int32_t> wp(size_t(nnzb * R * Cw));
    parallel_for(nnzb, 256, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t)
            for (int64_t r = 0; r < R; ++r)
                for (int64_t p = 0; p < Cw; ++p) {
                    const int64_t* v = blocks + (t * R + r) * C;
                    uint32_t w = 0;
                    for (int b = 0; b < per; ++b) {
                        const int64_t c = p * per + b;
                        const int64_t val = c < C ? v[c] : 0;
                        w |= (i8 ? uint32_t(uint8_t(int8_t(val))) : uint32_t(uint16_t(int16_t(val)))) << (b * (32 / per));
                    }
                    wp[size_t((t * R + r) * Cw + p)] = int32_t(w);
                }
    });
    std::vector<int64_t> corr;
    if (i8) {
        corr.assign(size_t(Mb * R), 0);
        parallel_for(Mb, 256, [&](int64_t b0, int64_t b1) {
            for (int64_t ib = b0; ib < b1; ++ib)
                for (int64_t t = indptr[ib]; t < indptr[ib + 1]; ++t)
                    for (int64_t r = 0; r < R; ++r) {
                        int64_t s = 0;
                        for (int64_t c = 0; c < C; ++c) s += blocks[(t * R + r) * C + c];
                        corr[size_t(ib * R + r)] += 128 * s;
                    }
        });
    }
    // x word rows: i8 and even C use disjoint words (rows per*q ...); odd C the overlapping
    // pairs (q, q+1), so that a block starting at an odd row still finds its pairs.
    const bool disjoint = i8 || C % 2 == 0;
    const int64_t step = disjoint ? per : 1;
    const int64_t P = disjoint ? K / per : K;
    const int64_t pstride = disjoint ? C / per : C, pstep = disjoint ? 1 : 2;
    const int64_t Nt = (N + kT - 1) / kT;
    std::unique_ptr<int32_t[]> xp(new int32_t[size_t(std::max<int64_t>(1, Nt * P * kT))]);
    parallel_for(P, 64, [&](int64_t q0, int64_t q1) { pack_words_avx512(x, K, N, i8, step, P, q0, q1, xp.get()); });
    if (i8)
        bsr<true>(indptr, indices, wp.data(), Mb, R, Cw, xp.get(), P, pstride, pstep, N, flush, corr.data(), out);
    else
        bsr<false>(indptr, indices, wp.data(), Mb, R, Cw, xp.get(), P, pstride, pstep, N, flush, nullptr, out);
    return i8 ? 2 : 1;
}

void gemm_csr_i16_avx512(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M,
                         int64_t K, const int64_t* x, int64_t N, int64_t* out) {
    const int64_t Nt = (N + kT - 1) / kT;
    // x as int16, 32-column tiles of K contiguous rows (64 bytes: one zmm), columns permuted so
    // that vpunpck{l,h}wd of two rows gives columns 0-15 and 16-31 in order: 128-bit lane L
    // holds columns 4L..4L+3 then 16+4L..16+4L+3 (0 past column N).
    std::unique_ptr<int16_t[]> xt(new int16_t[size_t(Nt * K * kT)]);
    parallel_for(K, 64, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k)
            for (int64_t t = 0; t < Nt; ++t) {
                int16_t* d = xt.get() + (t * K + k) * kT;
                const int64_t j0 = t * kT, nc = std::min(kT, N - j0);
                const int64_t* src = x + k * N + j0;
                if (nc == kT) {  // natural order (groups g0..g7 of 4 columns), then [g0 g4 g1 g5 | g2 g6 g3 g7]
                    const __m256i n0 = _mm256_permute4x64_epi64(_mm256_packs_epi32(low32x8(src), low32x8(src + 8)), 0xD8);
                    const __m256i n1 = _mm256_permute4x64_epi64(_mm256_packs_epi32(low32x8(src + 16), low32x8(src + 24)), 0xD8);
                    const __m256i lo = _mm256_unpacklo_epi64(n0, n1), hi = _mm256_unpackhi_epi64(n0, n1);
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm256_permute2x128_si256(lo, hi, 0x20));
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
                } else {
                    for (int64_t pos = 0; pos < kT; ++pos) {
                        const int64_t L = pos / 8, s = pos % 8;
                        const int64_t col = s < 4 ? 4 * L + s : 16 + 4 * L + (s - 4);
                        d[pos] = col < nc ? int16_t(src[col]) : int16_t(0);
                    }
                }
            }
    });
    // each row's stored entries in pairs: one int32 word (v1 | v2 << 16) and the two rows'
    // offsets into a tile (k * 32); an odd row's last pair repeats its row with v2 = 0
    std::vector<int64_t> pp(size_t(M + 1), 0);
    for (int64_t i = 0; i < M; ++i) pp[size_t(i + 1)] = pp[size_t(i)] + (indptr[i + 1] - indptr[i] + 1) / 2;
    const int64_t npairs = pp[size_t(M)];
    std::unique_ptr<int32_t[]> pw(new int32_t[size_t(std::max<int64_t>(1, npairs))]);
    std::unique_ptr<int32_t[]> po(new int32_t[size_t(std::max<int64_t>(1, 2 * npairs))]);
    parallel_for(M, 256, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            int64_t q = pp[size_t(i)];
            for (int64_t e = indptr[i]; e < indptr[i + 1]; e += 2, ++q) {
                const bool two = e + 1 < indptr[i + 1];
                const uint32_t lo = uint16_t(int16_t(values[e]));
                const uint32_t hi = two ? uint16_t(int16_t(values[e + 1])) : 0u;
                pw[size_t(q)] = int32_t(lo | (hi << 16));
                po[size_t(2 * q)] = int32_t(indices[e] * kT);
                po[size_t(2 * q + 1)] = int32_t((two ? indices[e + 1] : indices[e]) * kT);
            }
        }
    });
    const int64_t per_row = std::max<int64_t>(1, npairs / std::max<int64_t>(1, M));
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, per_row * Nt));
    parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t t = 0; t < Nt; ++t) {  // one tile of x (K rows x 64 bytes) stays in cache
            const int16_t* xs = xt.get() + t * K * kT;
            const int64_t j0 = t * kT, nc = std::min(kT, N - j0);
            for (int64_t i = r0; i < r1; ++i) {
                __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
                for (int64_t q = pp[size_t(i)]; q < pp[size_t(i + 1)]; ++q) {
                    const __m512i r1v = _mm512_loadu_si512(xs + po[size_t(2 * q)]);
                    const __m512i r2v = _mm512_loadu_si512(xs + po[size_t(2 * q + 1)]);
                    const __m512i w = _mm512_set1_epi32(pw[size_t(q)]);
                    a0 = _mm512_dpwssd_epi32(a0, w, _mm512_unpacklo_epi16(r1v, r2v));
                    a1 = _mm512_dpwssd_epi32(a1, w, _mm512_unpackhi_epi16(r1v, r2v));
                }
                widen_row(a0, a1, out + i * N + j0, nc, false, 0);
            }
        }
    });
}

namespace {

// Every one of n values in [-128, 127] (the int8 kernel's operands).
bool fits_i8(const int64_t* v, int64_t n) {
    int64_t lo, hi;
    gemm_table<Isa::avx2>().min_max_i64(v, n, &lo, &hi);
    return lo >= -128 && hi <= 127;
}

// The dense int16 entry: int8 operands (measured) take vpdpbusd, others vpdpwssd. Operands within
// [-128, 128] allow at least kI8Pairs pairs (2 * 128 * 128 per pair), so fewer rules int8 out
// without a pass over the data (the binding has already made one, to check the bounds).
constexpr int64_t kI8Pairs = ((int64_t(1) << 31) - 1) / (2 * 128 * 128);

void gemm_i16_vnni(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t pairs, int64_t* out) {
    if (pairs >= kI8Pairs && fits_i8(a, M * K) && fits_i8(b, K * N))
        gemm_i8_avx512(a, b, M, K, N, out);
    else
        gemm_i16_avx512(a, b, M, K, N, pairs, out);
}

// The CSR int16 entry: 32-column tiles need K * 32 < 2^31, else the AVX2 kernel's 16-column ones.
void csr_i16_vnni(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M, int64_t K,
                  const int64_t* x, int64_t N, int64_t* out) {
    if (K * kVnniTile < (int64_t(1) << 31))
        gemm_csr_i16_avx512(indptr, indices, values, M, K, x, N, out);
    else
        gemm_table<Isa::avx2>().csr_i16(indptr, indices, values, M, K, x, N, out);
}

}  // namespace

// The AVX2 table with this level's dense, CSR int16 and BSR kernels.
template <>
const GemmKernels& gemm_table<Isa::avx512_vnni>() {
    static const GemmKernels table = [] {
        GemmKernels t = gemm_table<Isa::avx2>();
        t.gemm_i16 = &gemm_i16_vnni;
        t.csr_i16 = &csr_i16_vnni;
        t.bsr_measured = &gemm_bsr_avx512;
        return t;
    }();
    return table;
}

}  // namespace fixedpoint
