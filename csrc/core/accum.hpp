// fixedpoint core: the hls4ml Dense layer emulation (accumulator-accurate matmul with a
// fused cast into the result format), Python-free.
//
//   acc = bias[j] (accum raws) or 0
//   for k in 0..K-1: acc = (accum)(acc + (accum)(x[i,k] * w[k,j]))   (matmul_accum's casts)
//   out[i,j] = (result)(acc)
//
// Bit for bit equal to cast(matmul_accum(...)) for every deterministic mode (STOCH is
// rejected). Per ISA (accum_scalar/avx2/avx512.cpp include accum_impl.hpp with their own
// flags): TRN/RND accumulators with WRAP or SAT (n = 0) run across output columns in int32
// lanes (operands within int16 use vpmaddwd with the rounding constant folded in) or int64
// lanes; rows whose partial sums provably stay in range (a per-row bound from |x| and |w|)
// and WRAP accumulators with n = 0 sum the rounded products without per-step overflow
// handling (exact reordering, as matmul_accum's WRAP path). Every other mode runs the scalar
// sequential loop. The final cast is vectorised for TRN/RND with WRAP/SAT, n = 0.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "format.hpp"
#include "kernels.hpp"

namespace fixedpoint {

struct AccumTable {
    void (*dense_accum)(const int64_t* x, const SourceFormat& fx, const int64_t* w, const SourceFormat& fw,
                        int64_t M, int64_t K, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                        int64_t* out);
};

const AccumTable& accum_kernels_scalar();
const AccumTable& accum_kernels_avx2();
const AccumTable& accum_kernels_avx512();

inline const AccumTable& accum_kernels() {
    switch (active_isa()) {
        case Isa::avx512: return accum_kernels_avx512();
        case Isa::avx2: return accum_kernels_avx2();
        default: return accum_kernels_scalar();
    }
}

constexpr int kDenseAccumMaxProductWidth = 126;

// x (M, K) and w (K, N) C-contiguous raws of fx / fw; bias (N,) accum raws or nullptr;
// out (M, N) result raws. Requires fx.w + fw.w <= 126, acc.w <= 64, res.w <= 64, and no STOCH
// (throws std::invalid_argument otherwise).
inline void dense_accum(const int64_t* x, const SourceFormat& fx, const int64_t* w, const SourceFormat& fw,
                        int64_t M, int64_t K, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                        int64_t* out) {
    if (fx.w + fw.w > kDenseAccumMaxProductWidth)
        throw std::invalid_argument("dense_accum: product width xw + ww = " + std::to_string(fx.w + fw.w) +
                                    " exceeds " + std::to_string(kDenseAccumMaxProductWidth) + " bits");
    if (acc.w > kNativeMaxWidth || res.w > kNativeMaxWidth)
        throw std::invalid_argument("dense_accum: accum and result must have w <= 64");
    if (acc.q == QMode::STOCH || res.q == QMode::STOCH)
        throw std::invalid_argument("dense_accum: STOCH rounding is not supported (use matmul_accum and cast)");
    accum_kernels().dense_accum(x, fx, w, fw, M, K, N, acc, bias, res, out);
}

}  // namespace fixedpoint
