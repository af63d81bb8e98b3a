// fixedpoint core: the instruction-set registry (Python-free).
//
// One best-first list of the ISA levels the kernels are compiled for. Each level's CPU features
// include every lower level's, so code built for level L runs at any level >= L; the enum
// values grow with the level. The compile flags of each level are FP_ISA_FLAGS_<name> in
// CMakeLists.txt. The active level is FIXEDPOINT_ISA's (when supported), else the best one the
// CPU supports; set_active_isa() changes it.
//
// How a kernel family adds an implementation for ISA x (example: gemm for avx512_vnni):
//  1. write csrc/core/<family>_<x>.cpp: `#define FP_ISA_NS <family>_<x>` and
//     `#define FP_ISA Isa::<x>` before any #include (see isa_ns.hpp), then define
//     `template <> const <Table>& <family>_table<Isa::<x>>() { ... }`;
//  2. list the file under fp_isa_sources(<x> ...) in CMakeLists.txt (it gets x's flags);
//  3. add `Isa::<x>` to the family's isa_pick<...>() list (best first), e.g. in gemm.cpp.
// Intrinsics come from simd.hpp (test FP_AVX512 / FP_AVX512_VNNI there, not __AVX512F__), so
// the same file also compiles in the emulated (SIMDe) build.
#pragma once
#include <cstddef>
#include <initializer_list>

namespace fixedpoint {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2, avx512_vnni = 3 };

struct IsaInfo {
    Isa isa;
    const char* name;
    // The CPU features it needs (names as in __builtin_cpu_supports / /proc/cpuinfo), nullptr-ended.
    const char* features[11];
};

// Best first. Compile flags (CMakeLists.txt): avx2: -mavx2 -mfma -mbmi2 -mpopcnt; avx512: those and
// -mavx512f -mavx512dq -mavx512vl -mavx512bw; avx512_vnni: those and -mavx512vnni -mavx512vpopcntdq.
inline constexpr IsaInfo kIsas[] = {
    {Isa::avx512_vnni,  // Ice Lake and later, Zen 4
     "avx512_vnni",
     {"avx2", "fma", "bmi2", "popcnt", "avx512f", "avx512dq", "avx512vl", "avx512bw", "avx512vnni", "avx512vpopcntdq",
      nullptr}},
    {Isa::avx512, "avx512", {"avx2", "fma", "bmi2", "popcnt", "avx512f", "avx512dq", "avx512vl", "avx512bw", nullptr}},
    {Isa::avx2, "avx2", {"avx2", "fma", "bmi2", "popcnt", nullptr}},
    {Isa::scalar, "scalar", {nullptr}},
};
inline constexpr std::size_t kNumIsas = sizeof(kIsas) / sizeof(kIsas[0]);

const char* isa_name(Isa isa);
bool isa_from_name(const char* name, Isa* isa);  // false for an unknown name
bool isa_supported(Isa isa);                     // by this CPU (every AVX-512 level in the emulated build)
Isa best_supported_isa();                        // the first supported in kIsas
bool isa_emulated();   // test-only build: the AVX-512 kernels run on SIMDe (emulated intrinsics)
Isa active_isa();      // FIXEDPOINT_ISA env var, else best_supported_isa()
void set_active_isa(Isa isa);  // throws std::invalid_argument if unsupported here

// Whether code built for `level` may run now (the active level includes its features).
inline bool isa_at_least(Isa level) { return int(active_isa()) >= int(level); }

// A family's implementation for one level: `table` returns its table of kernels.
template <class T>
struct IsaImpl {
    Isa isa;
    const T& (*table)();
};

// The best of a family's implementations (listed best first, the last one runnable everywhere)
// that the active level may run, e.g.
//   isa_pick<PoolTable>({{Isa::avx2, pool_table<Isa::avx2>}, {Isa::scalar, pool_table<Isa::scalar>}})
template <class T>
const T& isa_pick(std::initializer_list<IsaImpl<T>> impls) {
    const int a = int(active_isa());
    for (const IsaImpl<T>& im : impls)
        if (int(im.isa) <= a) return im.table();
    return (impls.end() - 1)->table();
}

// Declares a family's per-level table accessor `template <Isa> const T& fn();` and its
// specializations (each one defined, where the family has that level, in the level's file).
#define FP_ISA_DECLARE_TABLES(T, fn)            \
    template <Isa>                              \
    const T& fn();                              \
    template <>                                 \
    const T& fn<Isa::avx512_vnni>();            \
    template <>                                 \
    const T& fn<Isa::avx512>();                 \
    template <>                                 \
    const T& fn<Isa::avx2>();                   \
    template <>                                 \
    const T& fn<Isa::scalar>();

}  // namespace fixedpoint
