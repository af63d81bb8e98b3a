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
//
// Two lane layouts (accum_impl.hpp), the same per-lane arithmetic:
//  * column lanes (N >= the int32 lane count L32: 16 under AVX-512, 8 under AVX2; and every N in
//    the scalar build): one row at a time, lanes over output columns j, x[i,k] broadcast;
//  * row lanes (N < L32): blocks of 2*L32 rows transposed into a (K, rows) scratch (in-register
//    8x8 / 4x4 transposes for dense rows, contiguous runs for conv windows), lanes over rows,
//    w[k,j] broadcast; the variant (int16/int32/int64 lanes, free / clamped) is chosen per
//    block from the block's maxima of sum|x| and max|x|. Measured on AVX-512 (K = 36, SAT):
//    rows win clearly for N <= 8 and tie at N = 12..15; at N = 16 the column lanes are full.
//    Under AVX2 the row path also takes N = 8 (measured 1.8x faster than one column vector).
//  * int16 row lanes (Plan::p16): a WRAP accumulator of <= 16 bits or a signed 16-bit SAT one,
//    x within int16, every w << (16 - psh) (TRN; 15 - psh for RND) within int16: vpmulhw /
//    vpmulhrsw give each rounded product exactly, summed modulo 2^16 or by vpaddsw.
// conv_accum feeds the same code with the im2col windows of a convolution, copied straight
// from the padded input (no window matrix); with int16 lanes it runs lanes over samples instead
// (x transposed once into int16 sample blocks; every window operand is one aligned vector).
// AccumPost: the activation after the result cast (hls4ml's ReLU / linear layer), fused.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "format.hpp"
#include "kernels.hpp"

namespace fixedpoint {

// A convolution's geometry: x (S, Hp, Wp, C) already zero-padded, kernel kh x kw, strides sh, sw,
// output OH x OW. Window row (s, oh, ow) holds x[s, oh*sh + dh, ow*sw + dw, c] at
// k = (dh*kw + dw)*C + c (hls4ml's im2col order; Latency adds k ascending).
struct ConvGeom {
    int64_t S = 0, Hp = 1, Wp = 1, C = 1, kh = 1, kw = 1, sh = 1, sw = 1, OH = 1, OW = 1;
};

// What follows the result cast, fused into the kernel (hls4ml's ReLU / linear activation layer
// right after a Dense or conv layer): r = (result)(acc); if relu and result is signed,
// r = max(r, 0) (``x > 0 ? x : 0`` on the stored integer); if cast2, r = (res2)(r) (the
// activation's own result_t cast; skipped when res2 has the result's w, i and signedness).
struct AccumPost {
    bool relu = false;
    bool cast2 = false;
    Format res2{};
};

struct AccumTable {
    void (*dense_accum)(const int64_t* x, const SourceFormat& fx, const int64_t* w, const SourceFormat& fw,
                        int64_t M, int64_t K, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                        int64_t* out, const AccumPost* post);
    void (*conv_accum)(const int64_t* x, const ConvGeom& g, const SourceFormat& fx, const int64_t* w,
                       const SourceFormat& fw, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                       int64_t* out, const AccumPost* post);
};

// The error for a raw v of x outside [lo, hi] found by the kernels, at index (row, k) for
// dense_accum or (s, h, w, c) of the padded input for conv_accum (nullptr: none found again).
// Defined in accum_scalar.cpp, a generic translation unit: string code instantiated with ISA
// flags could replace the generic copy at link time (see isa_ns.hpp).
[[noreturn]] void throw_x_outside(bool conv, const int64_t* index, int64_t v, int64_t lo, int64_t hi);

FP_ISA_DECLARE_TABLES(AccumTable, accum_table)

inline const AccumTable& accum_kernels() {
    return isa_pick<AccumTable>({{Isa::avx512, accum_table<Isa::avx512>},
                                 {Isa::avx2, accum_table<Isa::avx2>},
                                 {Isa::scalar, accum_table<Isa::scalar>}});
}

constexpr int kDenseAccumMaxProductWidth = 126;

// x (M, K) and w (K, N) C-contiguous raws of fx / fw; bias (N,) accum raws or nullptr;
// out (M, N) result raws (post-op raws when post is given). Requires fx.w + fw.w <= 126,
// acc.w, res.w, res2.w <= 64, and no STOCH (throws std::invalid_argument otherwise).
inline void check_post(const char* api, const AccumPost* post) {
    if (!post || !post->cast2) return;
    if (post->res2.w > kNativeMaxWidth) throw std::invalid_argument(std::string(api) + ": post cast must have w <= 64");
    if (post->res2.q == QMode::STOCH) throw std::invalid_argument(std::string(api) + ": STOCH rounding is not supported");
}

inline void dense_accum(const int64_t* x, const SourceFormat& fx, const int64_t* w, const SourceFormat& fw,
                        int64_t M, int64_t K, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                        int64_t* out, const AccumPost* post = nullptr) {
    if (fx.w + fw.w > kDenseAccumMaxProductWidth)
        throw std::invalid_argument("dense_accum: product width xw + ww = " + std::to_string(fx.w + fw.w) +
                                    " exceeds " + std::to_string(kDenseAccumMaxProductWidth) + " bits");
    if (acc.w > kNativeMaxWidth || res.w > kNativeMaxWidth)
        throw std::invalid_argument("dense_accum: accum and result must have w <= 64");
    if (acc.q == QMode::STOCH || res.q == QMode::STOCH)
        throw std::invalid_argument("dense_accum: STOCH rounding is not supported (use matmul_accum and cast)");
    check_post("dense_accum", post);
    accum_kernels().dense_accum(x, fx, w, fw, M, K, N, acc, bias, res, out, post);
}

// dense_accum over the im2col rows of a convolution, without materialising them: x (S, Hp, Wp, C)
// C-contiguous raws of fx, w (K = kh*kw*C, N), out (S, OH, OW, N) result raws. Requires the
// dense_accum conditions and OH = (Hp - kh) / sh + 1, OW = (Wp - kw) / sw + 1 (every size >= 1
// except S >= 0, N >= 0); throws std::invalid_argument otherwise.
inline void conv_accum(const int64_t* x, const ConvGeom& g, const SourceFormat& fx, const int64_t* w,
                       const SourceFormat& fw, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                       int64_t* out, const AccumPost* post = nullptr) {
    if (fx.w + fw.w > kDenseAccumMaxProductWidth)
        throw std::invalid_argument("conv_accum: product width xw + ww = " + std::to_string(fx.w + fw.w) +
                                    " exceeds " + std::to_string(kDenseAccumMaxProductWidth) + " bits");
    if (acc.w > kNativeMaxWidth || res.w > kNativeMaxWidth)
        throw std::invalid_argument("conv_accum: accum and result must have w <= 64");
    if (acc.q == QMode::STOCH || res.q == QMode::STOCH)
        throw std::invalid_argument("conv_accum: STOCH rounding is not supported");
    if (g.S < 0 || N < 0 || g.Hp < 1 || g.Wp < 1 || g.C < 1 || g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 ||
        g.kh > g.Hp || g.kw > g.Wp || g.OH != (g.Hp - g.kh) / g.sh + 1 || g.OW != (g.Wp - g.kw) / g.sw + 1)
        throw std::invalid_argument("conv_accum: inconsistent geometry");
    check_post("conv_accum", post);
    accum_kernels().conv_accum(x, g, fx, w, fw, N, acc, bias, res, out, post);
}

}  // namespace fixedpoint
