// fixedpoint core: exact elementwise arithmetic and accumulator-accurate matmul
// for operands with w <= 64 (Python-free).
//
// Every operation first forms the exact ap_fixed result in its natural format
// (held in a 128-bit integer, so the natural width must be <= 126 bits), then
// either stores it (wide output: low and high 64-bit words) or casts it into a
// target format with one exact rounding (fused arithmetic + cast).
#pragma once
#include <cstdint>

#include "format.hpp"
#include "kernels.hpp"

namespace fixedpoint {

enum class ArithOp : int { add = 0, sub, mul, div, cmp };

constexpr int kArithMaxNaturalWidth = 126;  // the natural result must fit an int128 with room

// The natural result format of `a op b` (ap_fixed's rules; cmp uses sub's).
struct NaturalFormat {
    int w;
    int i;
    bool is_signed;
    int div_w;  // division: the width the header computes the quotient in
};
NaturalFormat natural_format(ArithOp op, const SourceFormat& a, const SourceFormat& b);

// An operand: int64 raws addressed by per-dimension strides in elements (0 broadcasts).
struct Operand {
    const int64_t* data;
    const int64_t* strides;
    SourceFormat fmt;
};

// out_fmt == nullptr: store the natural result, low word in out, high word in out_hi
// (cmp stores the sign of a - b in out: -1, 0, 1). Otherwise cast into *out_fmt
// (w <= 64) with its q/o/n; STOCH draws word (seed, index) for output element index.
// Returns the flat index of the first zero divisor (div only; its output is 0), or -1.
// Throws std::invalid_argument when the natural width exceeds kArithMaxNaturalWidth.
int64_t arith_elementwise(ArithOp op, const Operand& a, const Operand& b, int ndim, const int64_t* shape,
                          const Format* out_fmt, uint64_t seed, int64_t* out, int64_t* out_hi);

// Partial-sum quantization (a MAC array, hls4ml Dense latency strategy):
//   acc = bias[j] (already in accum's format) or 0;
//   for k in 0..K-1: acc = cast(acc + cast(a[i,k] * b[k,j] -> accum) -> accum)
// a is (M, K), b is (K, N), both C-contiguous raws; out (M, N) holds accum raws.
// STOCH words: index counter_base + ((i*N + j)*K + k)*2 (+1 for the sum's cast).
// Requires a.w + b.w <= kArithMaxNaturalWidth and accum.w <= 64.
void matmul_accum(const int64_t* a, const SourceFormat& fa, const int64_t* b, const SourceFormat& fb, int64_t M,
                  int64_t K, int64_t N, const Format& accum, const int64_t* bias, uint64_t seed,
                  uint64_t counter_base, int64_t* out);

}  // namespace fixedpoint
