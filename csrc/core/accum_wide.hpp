// fixedpoint core: the accumulator-accurate matmul for every width up to 1024 bits
// (Python-free). The semantics of matmul_accum (arith.hpp), which covers accumulators of
// at most 64 bits and products of at most 126:
//
//   acc = bias[j] (accumulator raws) or 0
//   for k in 0..K-1 (in that order):
//       p   = (accum)(a[i,k] * b[k,j])            one rounding of the exact product with accum's
//                                                  q/o/n (STOCH: the word for counter 2c)
//       acc = (accum)(acc + p)                     the exact (w+1)-bit sum cast with accum's o/n
//                                                  (no rounding: same binary point; word 2c + 1)
//   out[i,j] = acc,   c = counter_base + (i*N + j)*K + k
//
// Operands and accumulator in the limb storage of wide.hpp (L = ceil(w/64) limbs per element,
// extended; one limb is exactly the int64 storage of the native formats). The running sums are
// held in a fixed number of limbs chosen at run time (2, 4, 8 or 17: the smallest holding the
// (w+1)-bit sum), so the add and the range check unroll; a product of two operands of at most
// 64 bits (at most 126 bits wide) is rounded in 128-bit arithmetic, wider ones through the
// multi-limb rounding of wide_round.hpp. Rows are split across threads.
#pragma once
#include <cstdint>

#include "format.hpp"
#include "wide.hpp"

namespace fixedpoint {

// a (M, K) and b (K, N): row-major, contiguous elements (stride 1); bias: N accumulator
// elements of limbs_for(accum.w) limbs, or nullptr; out: M*N elements of limbs_for(accum.w)
// limbs. Every raw must lie in its format (the caller checks). Throws std::invalid_argument
// for negative sizes or a stride other than 1.
void wide_matmul_accum(const WideSource& a, const WideSource& b, int64_t M, int64_t K, int64_t N,
                       const Format& accum, const uint64_t* bias, uint64_t seed, uint64_t counter_base,
                       uint64_t* out);

}  // namespace fixedpoint
