// fixedpoint core: multi-limb (wide) fixed-point kernels, every width up to 1024 bits
// (Python-free).
//
// Storage: an element of a w-bit format occupies L = ceil(w / 64) little-endian 64-bit
// limbs, two's complement, sign-extended to 64 * L bits for signed formats and
// zero-extended for unsigned ones. With L == 1 this is exactly the int64 storage of the
// native (w <= 64) kernels, so both interoperate without conversion.
//
// Every kernel computes the exact value and rounds once, with the same semantics (and the
// same ap_fixed.h quirks) as the native scalar quantizer in quantize_scalar.hpp.
#pragma once
#include <cstdint>

#include "format.hpp"

namespace fixedpoint {

constexpr int kWideMaxLimbs = kMaxWidth / 64;  // 16

inline int limbs_for(int w) { return (w + 63) / 64; }

// A source of fixed-point values: n elements of `limbs` limbs each (element stride
// `stride` limbs; 0 broadcasts one element), format w/i/signed.
struct WideSource {
    const uint64_t* p;
    int64_t stride;
    int limbs;
    int w;
    int i;
    bool is_signed;
};

// dst = cast(src) for n elements (one exact rounding with dst's modes). STOCH uses the
// counter-based word for (seed, element index).
void wide_cast(const WideSource& src, int64_t n, const Format& dst, uint64_t seed, uint64_t* out);

// dst = quantize(x) for n doubles read as ap_fixed reads them (NaN/inf as huge values).
void wide_from_double(const double* x, int64_t n, const Format& dst, uint64_t seed, uint64_t* out);

// Values as float64: exact when representable, else round-half-even (IEEE overflow and
// gradual underflow).
void wide_to_double(const WideSource& src, int64_t n, double* out);

enum class WideOp : int { add = 0, sub = 1, mul = 2, cmp = 3 };

// Natural result of a op b for n elements (a and b strides 0 or 1 element). When dst is
// null the result is stored in the natural format (res_w, res_i, res_signed) with
// limbs_for(res_w) limbs per element; otherwise it is cast into *dst (one rounding). For
// cmp, out8 receives the sign of a - b and out is unused.
void wide_elementwise(WideOp op, const WideSource& a, const WideSource& b, int64_t n, int res_w, int res_i,
                      bool res_signed, const Format* dst, uint64_t seed, uint64_t* out, int8_t* out8);

// Exact C[M,N] = A[M,K] @ B[K,N] (row-major, contiguous) into res_w-bit raws with
// limbs_for(res_w) limbs each; res_w must bound every partial sum.
void wide_matmul(const WideSource& a, const WideSource& b, int64_t M, int64_t K, int64_t N, int res_w,
                 bool res_signed, uint64_t* out);

// Exact sums of `rows` rows of K elements each (row-major, contiguous) into res_w-bit raws.
void wide_sum_rows(const WideSource& a, int64_t rows, int64_t K, int res_w, uint64_t* out);

}  // namespace fixedpoint
