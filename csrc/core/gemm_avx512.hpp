// fixedpoint core: AVX-512 VNNI GEMM kernels (gemm_avx512.cpp, compiled for the avx512_vnni
// level; Python-free), in the level's GemmKernels table (gemm_kernels.hpp); the callers check the bounds.
//
// Tiles are 32 columns wide (two zmm of int32). Packed operands are int32 words: an int16 pair
// (lo | hi << 16, vpdpwssd) or four int8 (vpdpbusd). vpdpbusd multiplies unsigned by signed
// bytes; the exact signed x signed product uses the offset trick on the packed (vector) operand:
// x_u8 = x + 128, so sum w * x = sum w * x_u8 - 128 * sum w, with the per-output-row sum of the
// broadcast operand's values precomputed during packing.
#pragma once
#include <cstdint>

namespace fixedpoint {

constexpr int64_t kVnniTile = 32;  // columns per packed tile of the AVX-512 kernels

// Dense C = A @ B (int64 raws, C-contiguous). i16: |values| within int16 and `pairs` as
// gemm_i16_pairs (int32 lanes are widened at least every `pairs` pairs). i8: every value of
// both operands in [-128, 127] (int32 lanes widened every 128 quads: 512 * 255 * 128 < 2^31).
void gemm_i16_avx512(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t pairs,
                     int64_t* out);
void gemm_i8_avx512(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t* out);

// CSR @ dense with every value and x in int16 and every row sum of |value| * max|x| below 2^31
// (caller-checked); K * 32 < 2^31.
void gemm_csr_i16_avx512(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M,
                         int64_t K, const int64_t* x, int64_t N, int64_t* out);

// x word rows q0..q1 (of P) as 32-column tiles (word row q of tile t at xp + (t * P + q) * 32):
// i8: bytes (x[s + b, j] + 128), b = 0..3; else int16 pairs (x[s, j], x[s + 1, j]); s = q * step,
// rows past K - 1 read as 0.
void pack_words_avx512(const int64_t* x, int64_t K, int64_t N, bool i8, int64_t step, int64_t P, int64_t q0,
                       int64_t q1, int32_t* xp);

// BSR (Mb*R, K) @ dense (K, N) (see gemm_bsr_i64 in gemm.hpp), bounds measured here: returns 2
// when every weight and x is in int8 and C % 4 == 0 (vpdpbusd on quads, offset x, the per-row
// correction 128 * sum of the row's stored weights subtracted), 1 for the int16 pair path
// (vpdpwssd; values within +-32767 and gemm_i16_pairs >= ceil(C / 2)), 0 when neither applies
// (out untouched: the caller runs the portable kernel). Int32 lanes are widened before they can
// overflow.
int gemm_bsr_avx512(const int64_t* indptr, const int64_t* indices, const int64_t* blocks, int64_t Mb, int64_t R,
                    int64_t C, int64_t K, const int64_t* x, int64_t N, int64_t* out);

}  // namespace fixedpoint
