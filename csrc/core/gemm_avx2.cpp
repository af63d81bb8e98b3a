// Exact int16 GEMM with AVX2 vpmaddwd (compiled with -mavx2; chosen at run time).
//
// A is packed as int32 words holding the int16 pair (a[i,2p], a[i,2p+1]); B as, per pair p,
// 16-column tiles of interleaved (b[2p,j], b[2p+1,j]). vpmaddwd then gives
// a[i,2p]*b[2p,j] + a[i,2p+1]*b[2p+1,j] per int32 lane. The int32 partial sums hold at most
// `pairs` pairs (the caller's overflow bound) before they are widened into int64.
#define FP_ISA_NS gemm_avx2  // before any include: see isa_ns.hpp
#include "simd.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "gemm.hpp"
#include "gemm_kernels.hpp"
#include "gemm_impl.hpp"
#include "threads.hpp"

namespace fixedpoint {

namespace {

constexpr int64_t kTile = kI16Tile;  // columns per micro-tile (two ymm of int32)
constexpr int64_t kRowBlock = 64;  // rows of A per cache block
constexpr int64_t kPairBlock = 256;  // pairs per cache block (also capped by the bound)

// Widen one row's two int32 accumulators (16 columns) into int64 and store them into crow
// (add=false) or add them to it (add=true); ncols < kTile handles a ragged last tile.
inline void widen_row(const __m256i acc[2], int64_t* crow, int64_t ncols, bool add) {
    alignas(32) int64_t w[16];
    for (int h = 0; h < 2; ++h) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(w + 8 * h), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc[h])));
        _mm256_store_si256(reinterpret_cast<__m256i*>(w + 8 * h + 4),
                           _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc[h], 1)));
    }
    if (ncols == kTile) {
        for (int h = 0; h < 4; ++h) {
            __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 4 * h));
            if (add) v = _mm256_add_epi64(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(crow + 4 * h)));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(crow + 4 * h), v);
        }
    } else {
        for (int64_t j = 0; j < ncols; ++j) crow[j] = add ? crow[j] + w[j] : w[j];
    }
}

// The int32 word holding the int16 pair at p (memcpy: no type punning through pointers).
inline int32_t pair_word(const int16_t* p) {
    int32_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

// 8 int64 -> their low 32 bits, in order.
inline __m256i low32x8(const int64_t* src) {
    const __m256i lo_idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i p0 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), lo_idx);
    const __m256i p1 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 4)), lo_idx);
    return _mm256_permute2x128_si256(p0, p1, 0x20);
}

template <int R>
inline void micro(const int16_t* ap, int64_t lda, const int16_t* bp, int64_t ldb, int64_t np, int64_t* c,
                  int64_t ldc, int64_t ncols, bool add) {
    __m256i acc[R][2];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int64_t p = 0; p < np; ++p) {
        const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + p * ldb));
        const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + p * ldb + 16));
        for (int r = 0; r < R; ++r) {
            const __m256i av = _mm256_set1_epi32(pair_word(ap + 2 * (r * lda + p)));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
        }
    }
    for (int r = 0; r < R; ++r) widen_row(acc[r], c + r * ldc, ncols, add);
}

// BSR micro-kernel: RR rows of one block row times a 16-column tile, over the stored blocks
// t0..t1 of the block row (at most the caller's overflow bound of blocks, so the int32 lanes
// cannot overflow), then widened into int64: stored into c (add=false) or added to it.
// CP > 0 fixes the pairs per block row at compile time (the common block widths); CP == 0
// reads it from cp. The accumulators live in registers for the whole group.
template <int RR, int CP>
inline void bsr_group(const int64_t* indices, int64_t t0, int64_t t1, const int32_t* wp, int64_t R, int64_t cp,
                      const int16_t* xp, int64_t ldx, int64_t pstride, int64_t pstep, int64_t* c, int64_t ldc,
                      int64_t ncols, bool add) {
    const int64_t Cp = CP > 0 ? CP : cp;
    __m256i acc[RR][2];
    for (int r = 0; r < RR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int64_t t = t0; t < t1; ++t) {
        const int16_t* xb = xp + indices[t] * pstride * ldx;
        const int32_t* w = wp + t * R * Cp;
        for (int64_t p = 0; p < Cp; ++p) {
            const int16_t* xr = xb + p * pstep * ldx;
            const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr));
            const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr + 16));
            for (int r = 0; r < RR; ++r) {
                const __m256i av = _mm256_set1_epi32(w[r * Cp + p]);
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
            }
        }
    }
    for (int r = 0; r < RR; ++r) widen_row(acc[r], c + r * ldc, ncols, add);
}

// Every stored block of one block row (t0..t1) for RR rows and one tile, in groups of at most
// `flush` blocks: the first group stores, the later ones add (an empty row stores zeros).
template <int RR, int CP>
inline void bsr_row(const int64_t* indices, int64_t t0, int64_t t1, const int32_t* wp, int64_t R, int64_t cp,
                    const int16_t* xp, int64_t ldx, int64_t pstride, int64_t pstep, int64_t flush, int64_t* c,
                    int64_t ldc, int64_t ncols) {
    int64_t t = t0;
    do {
        const int64_t te = std::min(t1, t + flush);
        bsr_group<RR, CP>(indices, t, te, wp, R, cp, xp, ldx, pstride, pstep, c, ldc, ncols, t > t0);
        t = te;
    } while (t < t1);
}

template <int CP>
inline void bsr_rows(int64_t rr, const int64_t* indices, int64_t t0, int64_t t1, const int32_t* wp, int64_t R,
                     int64_t cp, const int16_t* xp, int64_t ldx, int64_t pstride, int64_t pstep, int64_t flush,
                     int64_t* c, int64_t ldc, int64_t ncols) {
    switch (rr) {
        case 4: bsr_row<4, CP>(indices, t0, t1, wp, R, cp, xp, ldx, pstride, pstep, flush, c, ldc, ncols); break;
        case 3: bsr_row<3, CP>(indices, t0, t1, wp, R, cp, xp, ldx, pstride, pstep, flush, c, ldc, ncols); break;
        case 2: bsr_row<2, CP>(indices, t0, t1, wp, R, cp, xp, ldx, pstride, pstep, flush, c, ldc, ncols); break;
        default: bsr_row<1, CP>(indices, t0, t1, wp, R, cp, xp, ldx, pstride, pstep, flush, c, ldc, ncols); break;
    }
}

}  // namespace

void gemm_bsr_i16_avx2(const int64_t* indptr, const int64_t* indices, const int32_t* wp, int64_t Mb, int64_t R,
                       int64_t Cp, const int16_t* xp, int64_t P, int64_t pstride, int64_t pstep, int64_t N,
                       int64_t flush, int64_t* out) {
    const int64_t Nt = (N + kTile - 1) / kTile;
    const int64_t per_row = std::max<int64_t>(1, indptr[Mb] / std::max<int64_t>(1, Mb)) * R * Cp;
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, per_row * N));
    constexpr int64_t ldx = kTile * 2;  // int16 per pair row within a tile
    parallel_for(Mb, grain, [&](int64_t b0, int64_t b1) {
        // Tiles outermost: one tile of x (P pair rows x 16 columns, contiguous) stays in L1
        // while every block row of this task reads its scattered pair rows from it.
        for (int64_t t = 0; t < Nt; ++t) {
            const int64_t j = t * kTile;
            const int64_t ncols = std::min(kTile, N - j);
            const int16_t* xt = xp + t * P * ldx;
            for (int64_t ib = b0; ib < b1; ++ib) {
                const int64_t t0 = indptr[ib], t1 = indptr[ib + 1];
                for (int64_t g = 0; g < R; g += 4) {
                    const int64_t rr = std::min<int64_t>(4, R - g);
                    const int32_t* wg = wp + g * Cp;  // row g of every block: wg + t * R * Cp
                    int64_t* c = out + (ib * R + g) * N + j;
                    switch (Cp) {  // pairs per block row: 2 for 4x4 blocks, 8 for 1x16
                        case 1: bsr_rows<1>(rr, indices, t0, t1, wg, R, Cp, xt, ldx, pstride, pstep, flush, c, N, ncols); break;
                        case 2: bsr_rows<2>(rr, indices, t0, t1, wg, R, Cp, xt, ldx, pstride, pstep, flush, c, N, ncols); break;
                        case 4: bsr_rows<4>(rr, indices, t0, t1, wg, R, Cp, xt, ldx, pstride, pstep, flush, c, N, ncols); break;
                        case 8: bsr_rows<8>(rr, indices, t0, t1, wg, R, Cp, xt, ldx, pstride, pstep, flush, c, N, ncols); break;
                        default: bsr_rows<0>(rr, indices, t0, t1, wg, R, Cp, xt, ldx, pstride, pstep, flush, c, N, ncols); break;
                    }
                }
            }
        }
    });
}

void bsr_pack_x_avx2(const int64_t* x, int64_t K, int64_t N, bool even, int64_t P, int64_t q0, int64_t q1,
                     int16_t* xp) {
    const int64_t Nt = (N + kTile - 1) / kTile;
    for (int64_t q = q0; q < q1; ++q) {
        const int64_t s = even ? 2 * q : q;
        const int64_t* x0 = x + s * N;
        const int64_t* x1 = s + 1 < K ? x0 + N : nullptr;
        for (int64_t t = 0; t < Nt; ++t) {
            int16_t* dst = xp + (t * P + q) * kTile * 2;
            const int64_t j0 = t * kTile, nc = std::min(kTile, N - j0);
            if (nc == kTile) {
                for (int h = 0; h < 2; ++h) {
                    const __m256i v0 = low32x8(x0 + j0 + 8 * h);
                    const __m256i v1 = x1 ? _mm256_slli_epi32(low32x8(x1 + j0 + 8 * h), 16) : _mm256_setzero_si256();
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 16 * h), _mm256_blend_epi16(v0, v1, 0xAA));
                }
            } else {
                for (int64_t j = 0; j < kTile; ++j) {
                    dst[2 * j] = j < nc ? int16_t(x0[j0 + j]) : int16_t(0);
                    dst[2 * j + 1] = j < nc && x1 ? int16_t(x1[j0 + j]) : int16_t(0);
                }
            }
        }
    }
}

void gemm_i16_avx2(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t pairs,
                   int64_t* out) {
    const int64_t K2 = (K + 1) / 2;
    const int64_t Nt = (N + kTile - 1) / kTile;  // column tiles
    // A as int16 rows of even length: pair p of row i is (a[i, 2p], a[i, 2p+1]).
    std::unique_ptr<int16_t[]> ap(new int16_t[size_t(M * K2 * 2)]);
    // grains: a task packs or multiplies enough to outweigh starting a thread (~20 us)
    parallel_for(M, std::max<int64_t>(64, (int64_t(1) << 17) / std::max<int64_t>(1, K)), [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            int16_t* __restrict d = ap.get() + i * K2 * 2;
            const int64_t* __restrict src = a + i * K;
            for (int64_t k = 0; k < K; ++k) d[k] = int16_t(src[k]);
            if (K % 2) d[K] = 0;
        }
    });
    // B layout: [column tile t][pair p][16 columns][2], so that one micro-kernel call reads its
    // (pairs x 16 columns) panel contiguously (a row-major pair layout puts successive pairs a
    // whole row apart: 4 KiB strides that alias in L1 and defeat the prefetcher).
    std::unique_ptr<int16_t[]> bpk(new int16_t[size_t(Nt * K2 * kTile * 2)]);  // every entry is written
    parallel_for(K2, std::max<int64_t>(16, (int64_t(1) << 16) / std::max<int64_t>(1, N)),
                 [&](int64_t p0, int64_t p1) { bsr_pack_x_avx2(b, K, N, true, K2, p0, p1, bpk.get()); });
    const int64_t pb = std::max<int64_t>(1, std::min(pairs, kPairBlock));
    parallel_for(M, std::max<int64_t>(8, (int64_t(1) << 22) / std::max<int64_t>(1, K * N)), [&](int64_t r0, int64_t r1) {
        for (int64_t i0 = r0; i0 < r1; i0 += kRowBlock) {  // A block (rows x pb pairs) stays in L2
            const int64_t i1 = std::min(r1, i0 + kRowBlock);
            for (int64_t p0 = 0; p0 < K2; p0 += pb) {
                const int64_t np = std::min(pb, K2 - p0);
                const bool add = p0 > 0;  // the first pair block stores, the later ones add
                for (int64_t t = 0; t < Nt; ++t) {  // the tile's B panel stays in L1 across the rows
                    const int64_t j = t * kTile;
                    const int64_t nc = std::min(kTile, N - j);
                    const int16_t* bpr = bpk.get() + (t * K2 + p0) * kTile * 2;
                    for (int64_t i = i0; i < i1; i += 4) {
                        const int64_t R = std::min<int64_t>(4, i1 - i);
                        const int16_t* apr = ap.get() + (i * K2 + p0) * 2;
                        int64_t* c = out + i * N + j;
                        switch (R) {
                            case 4: micro<4>(apr, K2, bpr, kTile * 2, np, c, N, nc, add); break;
                            case 3: micro<3>(apr, K2, bpr, kTile * 2, np, c, N, nc, add); break;
                            case 2: micro<2>(apr, K2, bpr, kTile * 2, np, c, N, nc, add); break;
                            default: micro<1>(apr, K2, bpr, kTile * 2, np, c, N, nc, add); break;
                        }
                    }
                }
            }
        }
    });
}

void min_max_i64_avx2(const int64_t* v, int64_t n, int64_t* lo, int64_t* hi) {
    __m256i mn = _mm256_setzero_si256(), mx = _mm256_setzero_si256();
    int64_t t = 0;
    for (; t + 4 <= n; t += 4) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + t));
        mn = _mm256_blendv_epi8(mn, x, _mm256_cmpgt_epi64(mn, x));
        mx = _mm256_blendv_epi8(mx, x, _mm256_cmpgt_epi64(x, mx));
    }
    alignas(32) int64_t a[4], b[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(a), mn);
    _mm256_store_si256(reinterpret_cast<__m256i*>(b), mx);
    int64_t l = 0, h = 0;
    for (int k = 0; k < 4; ++k) {
        l = std::min(l, a[k]);
        h = std::max(h, b[k]);
    }
    for (; t < n; ++t) {
        l = std::min(l, v[t]);
        h = std::max(h, v[t]);
    }
    *lo = l;
    *hi = h;
}

void gemm_csr_i16_avx2(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M, int64_t K,
                       const int64_t* x, int64_t N, int64_t* out) {
    const int64_t Nt = (N + kTile - 1) / kTile;
    // x as int16, 16-column tiles of K contiguous rows (32 bytes each; 0 past column N)
    std::unique_ptr<int16_t[]> xt(new int16_t[size_t(Nt * K * kTile)]);
    parallel_for(K, 64, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k)
            for (int64_t t = 0; t < Nt; ++t) {
                int16_t* d = xt.get() + (t * K + k) * kTile;
                const int64_t j0 = t * kTile, nc = std::min(kTile, N - j0);
                if (nc == kTile) {  // 16 int64 -> int16 (the values fit: packs does not saturate)
                    const __m256i v = _mm256_packs_epi32(low32x8(x + k * N + j0), low32x8(x + k * N + j0 + 8));
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm256_permute4x64_epi64(v, 0xD8));
                } else {
                    for (int64_t j = 0; j < kTile; ++j) d[j] = j < nc ? int16_t(x[k * N + j0 + j]) : int16_t(0);
                }
            }
    });
    // each row's stored entries in pairs: one int32 word (v1 | v2 << 16) and the two rows'
    // offsets into a tile (k * 16); an odd row's last pair repeats its row with v2 = 0
    std::vector<int64_t> pp(size_t(M + 1), 0);
    for (int64_t i = 0; i < M; ++i) pp[size_t(i + 1)] = pp[size_t(i)] + (indptr[i + 1] - indptr[i] + 1) / 2;
    const int64_t npairs = pp[size_t(M)];
    std::unique_ptr<int32_t[]> pw(new int32_t[size_t(npairs)]);
    std::unique_ptr<int32_t[]> po(new int32_t[size_t(2 * npairs)]);
    parallel_for(M, 256, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            int64_t q = pp[size_t(i)];
            for (int64_t e = indptr[i]; e < indptr[i + 1]; e += 2, ++q) {
                const bool two = e + 1 < indptr[i + 1];
                const uint32_t lo = uint16_t(int16_t(values[e]));
                const uint32_t hi = two ? uint16_t(int16_t(values[e + 1])) : 0u;
                pw[size_t(q)] = int32_t(lo | (hi << 16));
                po[size_t(2 * q)] = int32_t(indices[e] * kTile);
                po[size_t(2 * q + 1)] = int32_t((two ? indices[e + 1] : indices[e]) * kTile);
            }
        }
    });
    const int64_t per_row = std::max<int64_t>(1, npairs / std::max<int64_t>(1, M));
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, per_row * Nt));
    parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t t = 0; t < Nt; ++t) {  // one tile of x (K rows x 32 bytes) stays in L1
            const int16_t* xs = xt.get() + t * K * kTile;
            const int64_t j0 = t * kTile, nc = std::min(kTile, N - j0);
            for (int64_t i = r0; i < r1; ++i) {
                // a0: columns 0-3 and 8-11, a1: 4-7 and 12-15 (vpunpck{l,h}wd order)
                __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
                for (int64_t q = pp[size_t(i)]; q < pp[size_t(i + 1)]; ++q) {
                    const __m256i r1v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + po[size_t(2 * q)]));
                    const __m256i r2v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xs + po[size_t(2 * q + 1)]));
                    const __m256i w = _mm256_set1_epi32(pw[size_t(q)]);
                    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w, _mm256_unpacklo_epi16(r1v, r2v)));
                    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w, _mm256_unpackhi_epi16(r1v, r2v)));
                }
                alignas(32) int64_t wv[16];
                _mm256_store_si256(reinterpret_cast<__m256i*>(wv), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a0)));
                _mm256_store_si256(reinterpret_cast<__m256i*>(wv + 4), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(a1)));
                _mm256_store_si256(reinterpret_cast<__m256i*>(wv + 8), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a0, 1)));
                _mm256_store_si256(reinterpret_cast<__m256i*>(wv + 12), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(a1, 1)));
                int64_t* c = out + i * N + j0;
                if (nc == kTile) {
                    for (int h = 0; h < 4; ++h)
                        _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 4 * h),
                                            _mm256_load_si256(reinterpret_cast<const __m256i*>(wv + 4 * h)));
                } else {
                    for (int64_t j = 0; j < nc; ++j) c[j] = wv[j];
                }
            }
        }
    });
}

void gemm_i32_avx2(const int32_t* a, const int32_t* b, int64_t M, int64_t K, int64_t N, int64_t* out) {
    gemm_detail::gemm_wrap64<int32_t>(a, b, M, K, N, out);
}

void gemm_csr_i32_avx2(const int64_t* indptr, const int64_t* indices, const int32_t* values, int64_t M,
                       const int32_t* x, int64_t N, int64_t* out) {
    gemm_detail::csr_i32(indptr, indices, values, M, x, N, out);
}

template <>
const GemmKernels& gemm_table<Isa::avx2>() {
    static const GemmKernels table{&min_max_i64_avx2, &gemm_i16_avx2,     &gemm_i32_avx2,   &gemm_csr_i32_avx2,
                                   &gemm_csr_i16_avx2, &gemm_bsr_i16_avx2, &bsr_pack_x_avx2, nullptr};
    return table;
}

}  // namespace fixedpoint
