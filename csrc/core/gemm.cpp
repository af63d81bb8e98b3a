// Exact dense integer GEMM: portable paths and ISA dispatch (see gemm.hpp).
#include "gemm.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <vector>

#include "format.hpp"
#include "gemm_impl.hpp"
#include "gemm_kernels.hpp"
#include "threads.hpp"

namespace fixedpoint {

namespace {

// Scalar int16 path: int32 pair sums with the same bound as the SIMD kernel, widened per block.
void gemm_i16_scalar(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t pairs,
                     int64_t* out) {
    const int64_t kb = std::min<int64_t>(2 * pairs, K > 0 ? K : 1);
    std::vector<int16_t> bp(size_t(K * N));
    for (int64_t t = 0; t < K * N; ++t) bp[size_t(t)] = int16_t(b[t]);
    parallel_for(M, gemm_detail::row_grain(K, N), [&](int64_t r0, int64_t r1) {
        std::vector<int32_t> part(static_cast<size_t>(N));
        std::vector<int64_t> acc(static_cast<size_t>(N));
        for (int64_t i = r0; i < r1; ++i) {
            std::fill(acc.begin(), acc.end(), 0);
            for (int64_t k0 = 0; k0 < K; k0 += kb) {
                std::fill(part.begin(), part.end(), 0);
                const int64_t k1 = std::min(K, k0 + kb);
                for (int64_t k = k0; k < k1; ++k) {
                    const int32_t x = int32_t(a[i * K + k]);
                    const int16_t* brow = bp.data() + k * N;
                    for (int64_t j = 0; j < N; ++j) part[size_t(j)] += x * int32_t(brow[j]);
                }
                for (int64_t j = 0; j < N; ++j) acc[size_t(j)] += part[size_t(j)];
            }
            for (int64_t j = 0; j < N; ++j) out[i * N + j] = acc[size_t(j)];
        }
    });
}

}  // namespace

int64_t gemm_i16_pairs(int64_t amax, int64_t bmax) {
    if (amax < 0 || bmax < 0 || amax > 32768 || bmax > 32768) return 0;
    const int64_t pair = 2 * amax * bmax;
    if (pair == 0) return int64_t(1) << 40;
    const int64_t lim = (int64_t(1) << 31) - 1;
    return pair > lim ? 0 : lim / pair;
}

namespace {

void min_max_i64_scalar(const int64_t* v, int64_t n, int64_t* lo, int64_t* hi) {
    int64_t l = 0, h = 0;
    for (int64_t t = 0; t < n; ++t) {
        l = std::min(l, v[t]);
        h = std::max(h, v[t]);
    }
    *lo = l;
    *hi = h;
}

void gemm_i32_scalar(const int32_t* a, const int32_t* b, int64_t M, int64_t K, int64_t N, int64_t* out) {
    gemm_detail::gemm_wrap64<int32_t>(a, b, M, K, N, out);
}

void csr_i32_scalar(const int64_t* indptr, const int64_t* indices, const int32_t* values, int64_t M, const int32_t* x,
                    int64_t N, int64_t* out) {
    gemm_detail::csr_i32(indptr, indices, values, M, x, N, out);
}

}  // namespace

template <>
const GemmKernels& gemm_table<Isa::scalar>() {  // no int16 CSR/BSR paths
    static const GemmKernels table{&min_max_i64_scalar, &gemm_i16_scalar, &gemm_i32_scalar, &csr_i32_scalar,
                                   nullptr,             nullptr,          nullptr,         nullptr};
    return table;
}

namespace {

const GemmKernels& gemm_kernels() {
    return isa_pick<GemmKernels>({{Isa::avx512_vnni, gemm_table<Isa::avx512_vnni>},
                                  {Isa::avx2, gemm_table<Isa::avx2>},
                                  {Isa::scalar, gemm_table<Isa::scalar>}});
}

}  // namespace

void min_max_i64(const int64_t* v, int64_t n, int64_t* lo, int64_t* hi) { gemm_kernels().min_max_i64(v, n, lo, hi); }

void gemm_i16(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t amax, int64_t bmax,
              int64_t* out) {
    const int64_t pairs = gemm_i16_pairs(amax, bmax);
    if (pairs <= 0) throw std::invalid_argument("gemm_i16: operands exceed the int16 pair-sum bound");
    if (M == 0 || N == 0) return;
    if (K == 0) {
        std::fill(out, out + M * N, 0);
        return;
    }
    gemm_kernels().gemm_i16(a, b, M, K, N, pairs, out);
}

void gemm_i64(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, bool small_operands,
              int64_t* out) {
    if (M == 0 || N == 0) return;
    if (small_operands) {  // every operand within int32: packed 32-bit operands, 64-bit sums
        std::vector<int32_t> ap(size_t(M * K)), bp(size_t(K * N));
        for (int64_t t = 0; t < M * K; ++t) ap[size_t(t)] = int32_t(a[t]);
        for (int64_t t = 0; t < K * N; ++t) bp[size_t(t)] = int32_t(b[t]);
        gemm_kernels().gemm_i32(ap.data(), bp.data(), M, K, N, out);
        return;
    }
    gemm_detail::gemm_wrap64<int64_t>(a, b, M, K, N, out);
}

void gemm_i128(const int64_t* a, bool a_u64, const int64_t* b, bool b_u64, int64_t M, int64_t K, int64_t N,
               int64_t* out_lo, int64_t* out_hi) {
    if (M == 0 || N == 0) return;
    auto ld = [](int64_t v, bool u) { return u ? i128(uint64_t(v)) : i128(v); };
    parallel_for(M, gemm_detail::row_grain(K, N), [&](int64_t r0, int64_t r1) {
        std::vector<u128> acc(size_t(std::min(N, gemm_detail::kColBlock)));
        for (int64_t j0 = 0; j0 < N; j0 += gemm_detail::kColBlock) {
            const int64_t nj = std::min(gemm_detail::kColBlock, N - j0);
            for (int64_t i = r0; i < r1; ++i) {
                std::fill(acc.begin(), acc.begin() + nj, u128(0));
                for (int64_t k = 0; k < K; ++k) {
                    const i128 x = ld(a[i * K + k], a_u64);
                    if (x == 0) continue;
                    const int64_t* brow = b + k * N + j0;
                    for (int64_t j = 0; j < nj; ++j) acc[size_t(j)] += u128(x) * u128(ld(brow[j], b_u64));  // wraps mod 2^128: exact
                }
                for (int64_t j = 0; j < nj; ++j) {
                    out_lo[i * N + j0 + j] = int64_t(uint64_t(acc[size_t(j)]));
                    out_hi[i * N + j0 + j] = int64_t(i128(acc[size_t(j)]) >> 64);
                }
            }
        }
    });
}

void gemm_csr_i64(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M, const int64_t* x,
                  int64_t N, int64_t* out) {
    if (M == 0 || N == 0) return;
    const int64_t nnz_row = std::max<int64_t>(1, indptr[M] / std::max<int64_t>(1, M));
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, nnz_row * N));
    parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            uint64_t* __restrict c = reinterpret_cast<uint64_t*>(out + i * N);
            for (int64_t j = 0; j < N; ++j) c[j] = 0;
            for (int64_t t = indptr[i]; t < indptr[i + 1]; ++t) {
                const uint64_t v = uint64_t(values[t]);
                const int64_t* xr = x + indices[t] * N;
                for (int64_t j = 0; j < N; ++j) c[j] += v * uint64_t(xr[j]);  // wraps mod 2^64
            }
        }
    });
}

void gemm_csr_i32(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M, int64_t K,
                  const int64_t* x, int64_t N, int64_t* out) {
    if (M == 0 || N == 0) return;
    const int64_t nnz = indptr[M];
    const GemmKernels& kern = gemm_kernels();
    if (kern.csr_i16 && K > 0 && K * kI16Tile < (int64_t(1) << 31)) {
        // int16 operands: pairs of stored entries through vpmaddwd (the caller's row-sum
        // bound below 2^31 keeps every pair sum and int32 lane exact)
        int64_t vlo, vhi, xlo, xhi;
        min_max_i64(values, nnz, &vlo, &vhi);
        min_max_i64(x, K * N, &xlo, &xhi);
        if (vlo >= -32768 && vhi <= 32767 && xlo >= -32768 && xhi <= 32767) {
            kern.csr_i16(indptr, indices, values, M, K, x, N, out);
            return;
        }
    }
    std::vector<int32_t> vp(static_cast<size_t>(nnz)), xp(static_cast<size_t>(K * N));
    for (int64_t t = 0; t < nnz; ++t) vp[size_t(t)] = int32_t(values[t]);
    for (int64_t t = 0; t < K * N; ++t) xp[size_t(t)] = int32_t(x[t]);
    kern.csr_i32(indptr, indices, vp.data(), M, xp.data(), N, out);
}

// ---------------------------------------------------------------------------------------
// Block-sparse (BSR) @ dense
namespace {

// Portable kernel: every stored block (R x C) at block column jb adds value[r, c] * x[jb*C + c, :]
// to row r of its block row, modulo 2^64 (exact for results that fit 64 bits).
void bsr_wrap64(const int64_t* indptr, const int64_t* indices, const int64_t* blocks, int64_t Mb, int64_t R,
                int64_t C, const int64_t* x, int64_t N, int64_t* out) {
    const int64_t per_row = std::max<int64_t>(1, indptr[Mb] / std::max<int64_t>(1, Mb)) * R * C;
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, per_row * N));
    parallel_for(Mb, grain, [&](int64_t b0, int64_t b1) {
        for (int64_t ib = b0; ib < b1; ++ib) {
            uint64_t* rows = reinterpret_cast<uint64_t*>(out + ib * R * N);
            std::fill(rows, rows + R * N, uint64_t(0));
            for (int64_t t = indptr[ib]; t < indptr[ib + 1]; ++t) {
                const int64_t* blk = blocks + t * R * C;
                const int64_t* xb = x + indices[t] * C * N;
                for (int64_t r = 0; r < R; ++r) {
                    uint64_t* __restrict c = rows + r * N;
                    for (int64_t cc = 0; cc < C; ++cc) {
                        const uint64_t v = uint64_t(blk[r * C + cc]);
                        if (v == 0) continue;  // explicit zeros inside a block add nothing
                        const int64_t* __restrict xr = xb + cc * N;
                        for (int64_t j = 0; j < N; ++j) c[j] += v * uint64_t(xr[j]);  // wraps mod 2^64
                    }
                }
            }
        }
    });
}

// max |v| over n values, or -1 when one is beyond [-32767, 32767] (the int16 path is then out).
int64_t max_abs_i16(const int64_t* v, int64_t n) {
    int64_t lo, hi;
    min_max_i64(v, n, &lo, &hi);
    if (hi > 32767 || lo < -32767) return -1;
    return std::max(hi, -lo);
}


}  // namespace

int gemm_bsr_i64(const int64_t* indptr, const int64_t* indices, const int64_t* blocks, int64_t Mb, int64_t R,
                 int64_t C, int64_t K, const int64_t* x, int64_t N, int64_t* out) {
    if (Mb == 0 || N == 0 || R == 0) return 0;
    const int64_t nnzb = indptr[Mb];
    const int64_t Cp = (C + 1) / 2;
    const GemmKernels& kern = gemm_kernels();
    if (kern.bsr_measured) {  // a level's own BSR kernels, which measure their bounds (0: none applies)
        if (const int path = kern.bsr_measured(indptr, indices, blocks, Mb, R, C, K, x, N, out)) return path;
    }
    if (nnzb > 0 && C > 0 && kern.bsr_i16) {
        const int64_t amax = max_abs_i16(blocks, nnzb * R * C);
        const int64_t xmax = amax < 0 ? -1 : max_abs_i16(x, K * N);
        const int64_t pairs = (amax < 0 || xmax < 0) ? 0 : gemm_i16_pairs(amax, xmax);
        if (pairs >= Cp) {
            // weights: one int32 word per (block, row, pair) holding two int16 values
            std::vector<int32_t> wp(size_t(nnzb * R * Cp));
            parallel_for(nnzb, 256, [&](int64_t t0, int64_t t1) {
                for (int64_t t = t0; t < t1; ++t)
                    for (int64_t r = 0; r < R; ++r)
                        for (int64_t p = 0; p < Cp; ++p) {
                            const int64_t* v = blocks + (t * R + r) * C + 2 * p;
                            const uint32_t lo = uint16_t(int16_t(v[0]));
                            const uint32_t hi = 2 * p + 1 < C ? uint16_t(int16_t(v[1])) : 0u;
                            wp[size_t((t * R + r) * Cp + p)] = int32_t(lo | (hi << 16));
                        }
            });
            // x pair rows: even C uses the disjoint pairs (2q, 2q+1); odd C the overlapping
            // pairs (s, s+1) so that a block starting at an odd row still finds its pairs.
            const bool even = C % 2 == 0;
            const int64_t P = even ? K / 2 : K;
            const int64_t pstride = even ? C / 2 : C, pstep = even ? 1 : 2;
            const int64_t flush = std::max<int64_t>(1, pairs / Cp);
            const int64_t Nt = (N + kI16Tile - 1) / kI16Tile;
            // x as 16-column tiles of pair rows (every entry is written)
            std::unique_ptr<int16_t[]> xp(new int16_t[size_t(Nt * P * kI16Tile * 2)]);
            parallel_for(P, 64, [&](int64_t q0, int64_t q1) { kern.bsr_pack_x(x, K, N, even, P, q0, q1, xp.get()); });
            kern.bsr_i16(indptr, indices, wp.data(), Mb, R, Cp, xp.get(), P, pstride, pstep, N, flush, out);
            return 1;
        }
    }
    bsr_wrap64(indptr, indices, blocks, Mb, R, C, x, N, out);
    return 0;
}

}  // namespace fixedpoint
