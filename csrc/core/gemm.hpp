// fixedpoint core: exact dense integer GEMM on raw integers (Python-free).
//
// C = A @ B with A (M, K) and B (K, N) C-contiguous int64 raws. Each path is exact under
// the bound its caller checks; all paths give the same integers.
//  - gemm_i16: |a| <= amax, |b| <= bmax with gemm_i16_pairs(amax, bmax) > 0, every value in
//    int16 (the binding checks both). Operands are
//    packed to int16; pairs of products are summed in int32 (AVX2 vpmaddwd) for at most
//    gemm_i16_pairs() pairs, then widened into int64 accumulators.
//  - gemm_i64: results that fit 64 bits. Sums wrap modulo 2^64, which is exact for any
//    final value in 64 bits (reduction mod 2^64 is a ring homomorphism, so the order and
//    the intermediate overflows do not matter). Operands within int32 take a packed
//    32-bit path (vpmuldq).
//  - gemm_i128: results of up to 126 bits, in __int128; out_lo/out_hi get the low word and
//    the signed high word. a_u64/b_u64: the operand holds uint64 bit patterns.
// All are threaded with parallel_for and chosen per ISA at run time (gemm_kernels.hpp).
#pragma once
#include <cstdint>

namespace fixedpoint {

// Columns per tile of every packed int16 layout (dense B, BSR and CSR x): two ymm of int32.
constexpr int64_t kI16Tile = 16;

// Pairs of products an int32 partial sum may hold: floor((2^31 - 1) / (2 * amax * bmax)),
// or 0 when the int16 path is not allowed (a bound beyond 32768, or one pair overflows). A
// bound of 32768 admits -32768 only: the caller checks that every value fits int16.
int64_t gemm_i16_pairs(int64_t amax, int64_t bmax);

// *lo = min(0, v...), *hi = max(0, v...) over n int64 values (vectorized when the ISA allows).
void min_max_i64(const int64_t* v, int64_t n, int64_t* lo, int64_t* hi);

void gemm_i16(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t amax, int64_t bmax,
              int64_t* out);
void gemm_i64(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, bool small_operands,
              int64_t* out);
void gemm_i128(const int64_t* a, bool a_u64, const int64_t* b, bool b_u64, int64_t M, int64_t K, int64_t N,
               int64_t* out_lo, int64_t* out_hi);

// CSR (M, K) @ dense (K, N) modulo 2^64: row i of out is sum over stored entries (i, k, v) of
// v * x[k, :]. Exact for results that fit 64 bits (as gemm_i64). indptr has M + 1 entries.
void gemm_csr_i64(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M, const int64_t* x,
                  int64_t N, int64_t* out);
// The same when every |value| * |x| row sum is below 2^31 (caller-checked): 32-bit lanes, or
// int16 pairs (vpmaddwd) when every value and x fits int16 and the ISA has that path.
void gemm_csr_i32(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M, int64_t K,
                  const int64_t* x, int64_t N, int64_t* out);
// Block-sparse (BSR) (Mb*R, Kb*C) @ dense (Kb*C, N) modulo 2^64: indptr has Mb + 1 entries,
// indices the block column of each stored block, blocks the nnzb (R x C) row-major blocks.
// Exact for results that fit 64 bits (as gemm_i64). Bounds are measured here, not trusted:
// when every |value| and |x| is at most 32767 and an int32 lane can hold at least one block
// row's worth of pairs (gemm_i16_pairs >= ceil(C / 2)), int16 pair sums (AVX2 vpmaddwd) are
// widened into int64 at least every gemm_i16_pairs pairs, so nothing overflows and the sums
// are the exact integers; otherwise the portable 64-bit wrapping kernel runs.
// Returns the path taken: 0 = wrapping int64, 1 = int16 pair sums, 2 = int8 quads (avx512_vnni
// vpdpbusd, when every value and x is in int8 and C % 4 == 0; see gemm_avx512.hpp).
int gemm_bsr_i64(const int64_t* indptr, const int64_t* indices, const int64_t* blocks, int64_t Mb, int64_t R,
                 int64_t C, int64_t K, const int64_t* x, int64_t N, int64_t* out);
}  // namespace fixedpoint
