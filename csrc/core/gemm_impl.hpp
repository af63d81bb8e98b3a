// fixedpoint core: portable GEMM loop templates, included by gemm.cpp and the per-ISA
// gemm_<isa>.cpp translation units (each compiles them with its own flags). Python-free.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "isa_ns.hpp"
#include "threads.hpp"

namespace fixedpoint {
namespace gemm_detail {
inline namespace FP_PER_ISA_NS {  // see isa_ns.hpp

constexpr int64_t kRowBlock = 16;   // rows of C per task
constexpr int64_t kColBlock = 256;  // columns of B kept hot per pass

inline int64_t row_grain(int64_t K, int64_t N) {
    const int64_t work = std::max<int64_t>(1, K * N);
    return std::max<int64_t>(1, std::min<int64_t>(kRowBlock, (int64_t(1) << 18) / work + 1));
}

// out[i, :] = sum_k a[i, k] * b[k, :] modulo 2^64 (T: int32_t or int64_t operands).
// Blocked: a chunk of B (kDepth x kColBlock) stays in cache while 4 rows of C accumulate.
constexpr int64_t kDepth = 128;

template <class T>
inline void gemm_wrap64(const T* a, const T* b, int64_t M, int64_t K, int64_t N, int64_t* out) {
    parallel_for(M, row_grain(K, N), [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) std::fill(out + i * N, out + (i + 1) * N, int64_t(0));
        for (int64_t j0 = 0; j0 < N; j0 += kColBlock) {
            const int64_t nj = std::min(kColBlock, N - j0);
            for (int64_t k0 = 0; k0 < K; k0 += kDepth) {
                const int64_t k1 = std::min(K, k0 + kDepth);
                for (int64_t i = r0; i < r1; i += 4) {
                    const int64_t R = std::min<int64_t>(4, r1 - i);
                    uint64_t* c[4];
                    for (int64_t r = 0; r < 4; ++r)
                        c[r] = reinterpret_cast<uint64_t*>(out + (i + std::min(r, R - 1)) * N + j0);
                    for (int64_t k = k0; k < k1; ++k) {
                        const T* brow = b + k * N + j0;
                        if (R == 4) {
                            const int64_t x0 = a[i * K + k], x1 = a[(i + 1) * K + k];
                            const int64_t x2 = a[(i + 2) * K + k], x3 = a[(i + 3) * K + k];
                            uint64_t* __restrict c0 = c[0];
                            uint64_t* __restrict c1 = c[1];
                            uint64_t* __restrict c2 = c[2];
                            uint64_t* __restrict c3 = c[3];
                            if constexpr (sizeof(T) == 4) {  // 32 x 32 -> 64 bits: no overflow (vpmuldq)
                                for (int64_t j = 0; j < nj; ++j) {
                                    const int64_t y = brow[j];
                                    c0[j] += uint64_t(x0 * y);
                                    c1[j] += uint64_t(x1 * y);
                                    c2[j] += uint64_t(x2 * y);
                                    c3[j] += uint64_t(x3 * y);
                                }
                            } else {  // wraps modulo 2^64, exact for results that fit 64 bits
                                for (int64_t j = 0; j < nj; ++j) {
                                    const uint64_t y = uint64_t(brow[j]);
                                    c0[j] += uint64_t(x0) * y;
                                    c1[j] += uint64_t(x1) * y;
                                    c2[j] += uint64_t(x2) * y;
                                    c3[j] += uint64_t(x3) * y;
                                }
                            }
                        } else {
                            for (int64_t r = 0; r < R; ++r) {
                                const int64_t x = a[(i + r) * K + k];
                                uint64_t* __restrict cr = c[r];
                                for (int64_t j = 0; j < nj; ++j) cr[j] += uint64_t(x) * uint64_t(int64_t(brow[j]));
                            }
                        }
                    }
                }
            }
        }
    });
}

// CSR rows with 32-bit values, x and sums (the caller bounds every row sum below 2^31):
// eight lanes per AVX2 vpmulld; widened to int64 on the way out.
inline void csr_i32(const int64_t* indptr, const int64_t* indices, const int32_t* values, int64_t M,
                    const int32_t* x, int64_t N, int64_t* out) {
    const int64_t nnz_row = std::max<int64_t>(1, indptr[M] / std::max<int64_t>(1, M));
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, nnz_row * N));
    parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
        constexpr int64_t kCols = 64;  // a (K x 64) slice of x stays in L2 across the rows
        alignas(32) int32_t acc[kCols];
        for (int64_t j0 = 0; j0 < N; j0 += kCols) {
            const int64_t nj = std::min(kCols, N - j0);
            for (int64_t i = r0; i < r1; ++i) {
                int32_t* __restrict c = acc;
                for (int64_t j = 0; j < kCols; ++j) c[j] = 0;
                for (int64_t t = indptr[i]; t < indptr[i + 1]; ++t) {
                    const int32_t v = values[t];
                    const int32_t* __restrict xr = x + indices[t] * N + j0;
                    if (nj == kCols) {
                        for (int64_t j = 0; j < kCols; ++j) c[j] += v * xr[j];
                    } else {
                        for (int64_t j = 0; j < nj; ++j) c[j] += v * xr[j];
                    }
                }
                for (int64_t j = 0; j < nj; ++j) out[i * N + j0 + j] = c[j];
            }
        }
    });
}

}  // namespace FP_PER_ISA_NS
}  // namespace gemm_detail
}  // namespace fixedpoint
