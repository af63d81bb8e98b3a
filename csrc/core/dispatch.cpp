// fixedpoint core: the instruction-set registry's run-time side (see isa.hpp) and the quantize
// kernels' dispatch.
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "isa.hpp"
#include "kernels.hpp"

namespace fixedpoint {

namespace {

// __builtin_cpu_supports takes string literals only: every feature named in kIsas is listed here.
bool cpu_has(const char* f) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
#define FP_FEATURE(name) \
    if (std::strcmp(f, #name) == 0) return __builtin_cpu_supports(#name);
    FP_FEATURE(avx2)
    FP_FEATURE(fma)
    FP_FEATURE(bmi2)
    FP_FEATURE(popcnt)
    FP_FEATURE(avx512f)
    FP_FEATURE(avx512dq)
    FP_FEATURE(avx512vl)
    FP_FEATURE(avx512bw)
    FP_FEATURE(avx512vnni)
    FP_FEATURE(avx512vpopcntdq)
#undef FP_FEATURE
#endif
    (void)f;
    return false;
}

const IsaInfo& info(Isa isa) {
    for (const IsaInfo& i : kIsas)
        if (i.isa == isa) return i;
    return kIsas[kNumIsas - 1];
}

bool cpu_supports(Isa isa) {
    for (const char* const* f = info(isa).features; *f; ++f)
        if (!cpu_has(*f)) return false;
    return true;
}

}  // namespace

const char* isa_name(Isa isa) { return info(isa).name; }

bool isa_from_name(const char* name, Isa* isa) {
    for (const IsaInfo& i : kIsas)
        if (std::strcmp(name, i.name) == 0) {
            *isa = i.isa;
            return true;
        }
    return false;
}

bool isa_emulated() {
#ifdef FIXEDPOINT_AVX512_EMULATED
    return true;
#else
    return false;
#endif
}

bool isa_supported(Isa isa) {
    static const auto supported = [] {
        std::array<bool, kNumIsas> s{};
        for (const IsaInfo& i : kIsas) s[size_t(i.isa)] = cpu_supports(i.isa);
        // The emulated build runs its AVX-512 files (compiled with the AVX2 flags) on SIMDe.
        if (isa_emulated())
            for (const IsaInfo& i : kIsas)
                if (int(i.isa) > int(Isa::avx2)) s[size_t(i.isa)] = s[size_t(Isa::avx2)];
        return s;
    }();
    return int(isa) >= 0 && size_t(isa) < kNumIsas && supported[size_t(isa)];
}

Isa best_supported_isa() {
    for (const IsaInfo& i : kIsas)
        if (isa_supported(i.isa)) return i.isa;
    return Isa::scalar;
}

namespace {

Isa initial_isa() {
    Isa isa;
    if (const char* env = std::getenv("FIXEDPOINT_ISA"))
        if (isa_from_name(env, &isa) && isa_supported(isa)) return isa;
    return best_supported_isa();
}

std::atomic<int>& isa_state() {
    static std::atomic<int> state{int(initial_isa())};
    return state;
}

}  // namespace

Isa active_isa() { return Isa(isa_state().load()); }

void set_active_isa(Isa isa) {
    if (!isa_supported(isa))
        throw std::invalid_argument(std::string("set_isa: this CPU does not support '") + isa_name(isa) +
                                    "' (best available: '" + isa_name(best_supported_isa()) + "')");
    isa_state().store(int(isa));
}

const KernelTable& kernels() {
    return isa_pick<KernelTable>({{Isa::avx512, kernel_table<Isa::avx512>},
                                  {Isa::avx2, kernel_table<Isa::avx2>},
                                  {Isa::scalar, kernel_table<Isa::scalar>}});
}

}  // namespace fixedpoint
