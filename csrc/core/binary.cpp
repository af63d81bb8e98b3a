#include "binary.hpp"

#include "gemm_avx512.hpp"
#include "kernels.hpp"

namespace fixedpoint {

namespace {
// The AVX2 unit is also compiled with -mpopcnt (every AVX2 CPU has POPCNT; checked anyway).
bool has_popcnt() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt");
#else
    return false;
#endif
}
}  // namespace

const BinaryKernelTable& binary_kernels() {
    static const bool popcnt = has_popcnt();
    if (avx512_vnni_active()) return binary_kernels_avx512_vnni();
    switch (active_isa()) {
        case Isa::avx512:  // without VNNI / VPOPCNTDQ: the AVX2 kernels
        case Isa::avx2: return popcnt ? binary_kernels_avx2() : binary_kernels_scalar();
        default: return binary_kernels_scalar();
    }
}

}  // namespace fixedpoint
