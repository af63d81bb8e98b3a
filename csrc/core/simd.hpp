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
