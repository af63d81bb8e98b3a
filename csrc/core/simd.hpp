// fixedpoint core: the one place translation units get x86 intrinsics from (Python-free).
//
// Native build: <immintrin.h>, with the ISA the file's compile flags enable. Emulated build
// (CMake option FIXEDPOINT_SIMDE_AVX512, a test-only build for machines without AVX-512): the
// AVX-512 translation units are compiled with AVX2 flags and FP_SIMDE_AVX512 defined, and get
// the AVX-512 intrinsics from SIMDe (portable code computing the same bits) under their usual
// names. Code tests FP_AVX512 / FP_AVX512_VNNI / FP_AVX2, never __AVX512F__ and friends, so the
// same source compiles natively and emulated.
#pragma once

#if defined(FP_SIMDE_AVX512)
#if !defined(__AVX2__)
#error "FP_SIMDE_AVX512: the emulated AVX-512 translation units are compiled with AVX2 flags"
#endif
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
// SIMDe 0.7.4 defines these two aliases with the argument list of _mm512_mask_madd_epi16
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)
#undef _mm512_maskz_madd_epi16
#define _mm512_maskz_madd_epi16(k, a, b) simde_mm512_maskz_madd_epi16(k, a, b)
// Intrinsics SIMDe 0.7.4 lacks (without these GCC's native ones would be called, which the
// AVX2 flags refuse to compile). Masked-off lanes are never read, as with the instruction.
#include <cstdint>
#include <cstring>
inline simde__m512i fp_simde_maskz_loadu_epi64(simde__mmask8 k, const void* p) {
    int64_t v[8] = {};
    for (int i = 0; i < 8; ++i)
        if ((k >> i) & 1) std::memcpy(&v[i], static_cast<const char*>(p) + 8 * i, 8);
    return simde_mm512_loadu_si512(v);
}
#define _mm512_maskz_loadu_epi64(k, p) fp_simde_maskz_loadu_epi64(k, p)
inline simde__m512i fp_simde_shuffle_i64x2(simde__m512i a, simde__m512i b, int imm) {
    int64_t x[8], y[8], r[8];
    simde_mm512_storeu_si512(x, a);
    simde_mm512_storeu_si512(y, b);
    for (int l = 0; l < 4; ++l) {  // 128-bit lanes 0, 1 from a, 2, 3 from b
        const int64_t* src = (l < 2 ? x : y) + 2 * ((imm >> (2 * l)) & 3);
        r[2 * l] = src[0];
        r[2 * l + 1] = src[1];
    }
    return simde_mm512_loadu_si512(r);
}
#define _mm512_shuffle_i64x2(a, b, imm) fp_simde_shuffle_i64x2(a, b, imm)
#define FP_AVX512 1
#define FP_AVX512_VNNI 1  // SIMDe implements vpdpbusd/vpdpwssd and vpopcntq too
#elif defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define FP_AVX512 1
#if defined(__AVX512VNNI__) && defined(__AVX512VPOPCNTDQ__)
#define FP_AVX512_VNNI 1
#endif
#endif
#endif

#if defined(__AVX2__)
#define FP_AVX2 1
#endif

// GCC 12 warns that the undefined upper halves inside _mm512_extracti64x4_epi64 and
// _mm512_castsi512_si256 are used uninitialized (GCC bug 105593, fixed in GCC 13): a false
// positive, silenced for the AVX-512 VNNI files that use them.
#if defined(FP_AVX512_VNNI) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
