// fixedpoint core: a namespace per instruction set for inline code shared by ISA-specific and
// generic translation units (Python-free).
//
// An inline function or template instantiation with external linkage is emitted in every
// translation unit that uses it, and the linker keeps one copy, chosen by link order. A copy
// compiled with -mavx2 or -mavx512* flags could then be the one generic (scalar) code calls: an
// illegal instruction on a CPU without that ISA. Headers with such code (quantize_scalar.hpp,
// rng.hpp, gemm_impl.hpp) put it in `inline namespace FP_PER_ISA_NS`: its name follows the
// including translation unit's FP_ISA_NS (each ISA file defines it before any #include), else
// `per_generic`, so every ISA's copies have their own symbol names. tests/test_isa_linkage.py
// checks the built objects for weak symbols shared by ISA and generic objects.
#pragma once

#define FP_PER_ISA_CAT2(a, b) a##b
#define FP_PER_ISA_CAT(a, b) FP_PER_ISA_CAT2(a, b)
#ifdef FP_ISA_NS
#define FP_PER_ISA_NS FP_PER_ISA_CAT(per_, FP_ISA_NS)
#else
#define FP_PER_ISA_NS per_generic
#endif
