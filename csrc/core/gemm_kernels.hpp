// fixedpoint core: the GEMM family's per-ISA kernels (internal to gemm*.cpp; see gemm.hpp for
// the operations and isa.hpp for how an ISA adds its table). gemm.cpp defines the scalar table
// (portable loops), gemm_avx2.cpp the AVX2 one, gemm_avx512.cpp the AVX-512 VNNI one (the AVX2
// table with its own dense int8/int16, CSR int16 and BSR kernels); gemm.cpp's gemm_kernels() picks the best.
#pragma once
#include <cstdint>

#include "isa.hpp"

namespace fixedpoint {

struct GemmKernels {
    // *lo = min(0, v...), *hi = max(0, v...) over n int64 values.
    void (*min_max_i64)(const int64_t* v, int64_t n, int64_t* lo, int64_t* hi);
    // int16 GEMM, int32 pair sums widened at least every `pairs` pairs (gemm.hpp's gemm_i16).
    void (*gemm_i16)(const int64_t* a, const int64_t* b, int64_t M, int64_t K, int64_t N, int64_t pairs,
                     int64_t* out);
    // Operands packed to int32, sums modulo 2^64.
    void (*gemm_i32)(const int32_t* a, const int32_t* b, int64_t M, int64_t K, int64_t N, int64_t* out);
    // CSR @ dense with int32 values and x, 64-bit sums (gemm.hpp's gemm_csr_i32).
    void (*csr_i32)(const int64_t* indptr, const int64_t* indices, const int32_t* values, int64_t M,
                    const int32_t* x, int64_t N, int64_t* out);
    // Optional (nullptr: this level has no such path; the caller takes the next one).
    // CSR @ dense with every value and x in int16 (pairs of a row's entries through vpmaddwd,
    // int32 lanes under the caller's row-sum bound; K * 16 < 2^31).
    void (*csr_i16)(const int64_t* indptr, const int64_t* indices, const int64_t* values, int64_t M, int64_t K,
                    const int64_t* x, int64_t N, int64_t* out);
    // BSR int16 kernel on packed operands: wp holds per block, per block row r and pair p the
    // int32 word (value[r, 2p] | value[r, 2p+1] << 16); xp holds x as 16-column tiles of P pair
    // rows, each pair row 16 interleaved int16 pairs (tile t, pair row q at xp + (t * P + q) * 32;
    // columns past N are zero); pair p of block column jb is pair row jb * pstride + p * pstep.
    // Writes the (Mb * R, N) out (row stride N). flush: blocks summed in int32 lanes before they
    // are widened into int64.
    void (*bsr_i16)(const int64_t* indptr, const int64_t* indices, const int32_t* wp, int64_t Mb, int64_t R,
                    int64_t Cp, const int16_t* xp, int64_t P, int64_t pstride, int64_t pstep, int64_t N,
                    int64_t flush, int64_t* out);
    // x pair rows q0..q1 (of P) for bsr_i16, from the (K, N) int64 x: pair row q holds
    // (x[s, j], x[s + 1, j]) with s = 2q (even) or q (odd C), 0 past row K - 1. Set with bsr_i16.
    void (*bsr_pack_x)(const int64_t* x, int64_t K, int64_t N, bool even, int64_t P, int64_t q0, int64_t q1,
                       int16_t* xp);
    // Optional: a level's own BSR @ dense (gemm_bsr_i64's arguments), which measures its bounds and
    // returns its path code (2 = int8 quads, 1 = int16 pairs), or 0, out untouched, when none applies.
    int (*bsr_measured)(const int64_t* indptr, const int64_t* indices, const int64_t* blocks, int64_t Mb, int64_t R,
                        int64_t C, int64_t K, const int64_t* x, int64_t N, int64_t* out);
};

FP_ISA_DECLARE_TABLES(GemmKernels, gemm_table)

}  // namespace fixedpoint
