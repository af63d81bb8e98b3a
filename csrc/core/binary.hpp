// fixedpoint core: binary (+-1) and ternary kernels on packed sign bits, Python-free.
//
// A packed row holds K signs in ceil(K/64) uint64 words, bit k%64 of word k/64 set for +1.
// Padding bits (k >= K) must be 0 in every operand; then the padding of two rows never
// differs and popcount(a ^ b) over whole words counts exactly the valid disagreements.
#pragma once
#include <cstdint>

namespace fixedpoint {

struct BinaryKernelTable {
    // out[m*N + n] = K - 2 * popcount(a[m] ^ b[n]) (exact int32 +-1 dot product).
    // a: (M, words) rows, b: (N, words) rows (the right operand packed along K).
    void (*xnor_gemm)(const uint64_t* a, const uint64_t* b, int64_t M, int64_t N, int64_t words, int64_t K,
                      int32_t* out);
    // Ternary (nonzero mask tm, sign plane tp: 1 for +1) times binary b:
    // out = popcount(tm) - 2 * popcount(tm & (tp ^ b)).
    void (*ternary_binary_gemm)(const uint64_t* tm, const uint64_t* tp, const uint64_t* b, int64_t M, int64_t N,
                                int64_t words, int32_t* out);
    // Fixed-point activations x (M, K) int64 raws times +-1 weights w (N, words):
    // out[m*N + n] = sum_k (bit ? x : -x). Exact in int64 for |x| < 2^32 and K < 2^31.
    void (*binary_weight_gemm)(const int64_t* x, const uint64_t* w, int64_t M, int64_t N, int64_t K,
                               int64_t words, int64_t* out);
};

const BinaryKernelTable& binary_kernels();  // for active_isa() (avx512 without VNNI/VPOPCNTDQ: the avx2 table)
const BinaryKernelTable& binary_kernels_scalar();
const BinaryKernelTable& binary_kernels_avx2();
const BinaryKernelTable& binary_kernels_avx512_vnni();  // vpopcntq (binary_avx512.cpp)

}  // namespace fixedpoint
