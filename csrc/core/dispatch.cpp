#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "kernels.hpp"

namespace fixedpoint {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::scalar: return "scalar";
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
    }
    return "?";
}

bool isa_emulated() {
#ifdef FIXEDPOINT_AVX512_EMULATED
    return true;
#else
    return false;
#endif
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    switch (isa) {
        case Isa::scalar: return true;
        case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::avx512:
            if (isa_emulated()) return isa_supported(Isa::avx2);  // SIMDe on top of AVX2
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    }
    return false;
#else
    return isa == Isa::scalar;
#endif
}

Isa best_supported_isa() {
    if (isa_supported(Isa::avx512)) return Isa::avx512;
    if (isa_supported(Isa::avx2)) return Isa::avx2;
    return Isa::scalar;
}

namespace {

Isa initial_isa() {
    if (const char* env = std::getenv("FIXEDPOINT_ISA")) {
        for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
            if (std::strcmp(env, isa_name(isa)) == 0 && isa_supported(isa)) return isa;
    }
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
    switch (active_isa()) {
        case Isa::avx512: return kernels_avx512();
        case Isa::avx2: return kernels_avx2();
        default: return kernels_scalar();
    }
}

}  // namespace fixedpoint
