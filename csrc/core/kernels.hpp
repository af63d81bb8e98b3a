// fixedpoint core: array kernels for native widths (w <= 64), Python-free.
//
// Every kernel reads a contiguous input, writes one int64 raw per element
// (the stored bits; for 64-bit unsigned formats the uint64 bit pattern), is
// threaded with parallel_for and is chosen at run time for the CPU's ISA.
#pragma once
#include <cstdint>
#include <string>

#include "format.hpp"

namespace fixedpoint {

enum class DType : int { f32 = 0, f64, i8, i16, i32, i64, u8, u16, u32, u64, b1 };

// A raw-integer source format (ap_[u]fixed<w, i> with w <= 64).
struct SourceFormat {
    int w;
    int i;
    bool is_signed;
};

struct KernelTable {
    // Floats -> fixed. Returns the index of the first NaN when nan_ap is false
    // (that element's output is 0), else -1; nan_ap reproduces ap_fixed.
    int64_t (*quantize_float)(const void* x, DType dt, int64_t n, const Format& fmt, uint64_t seed,
                              bool nan_ap, int64_t* out);
    // Exact integers (as the matching C type converts in ap_fixed) -> fixed.
    void (*quantize_int)(const void* x, DType dt, int64_t n, const Format& fmt, uint64_t seed, int64_t* out);
    // Fixed -> fixed (requantize). The raws are checked against sf's range in the same pass:
    // returns the index of the first raw outside it (the outputs are then unspecified), else -1.
    int64_t (*cast_raw)(const int64_t* src, int64_t n, const SourceFormat& sf, const Format& fmt, uint64_t seed,
                        int64_t* out);
    // Fixed -> float64: exact when representable, else round-half-even. Checks the raws as
    // cast_raw does (returns the first outside sf's range, else -1).
    int64_t (*to_double)(const int64_t* raw, int64_t n, const SourceFormat& sf, double* out);
};

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
Isa best_supported_isa();        // what this CPU supports
bool isa_supported(Isa isa);
bool isa_emulated();             // test-only build: the AVX-512 kernels run on SIMDe (emulated intrinsics)
Isa active_isa();                // FIXEDPOINT_ISA env var, else best_supported_isa()
void set_active_isa(Isa isa);    // throws std::invalid_argument if unsupported here
const KernelTable& kernels();    // the table for active_isa()

// Per-ISA tables (one translation unit each, compiled with that ISA's flags).
const KernelTable& kernels_scalar();
const KernelTable& kernels_avx2();
const KernelTable& kernels_avx512();

}  // namespace fixedpoint
