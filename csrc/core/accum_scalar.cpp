// dense_accum compiled for the scalar instruction set (no ISA flags), and the
// kernels' error helper (generic code: see isa_ns.hpp).
#define FP_ISA_NS accum_scalar
#define FP_ISA Isa::scalar
#include "accum_impl.hpp"

namespace fixedpoint {

void throw_x_outside(bool conv, const int64_t* index, int64_t v, int64_t lo, int64_t hi) {
    const std::string api = conv ? "conv_accum" : "dense_accum";
    if (index == nullptr) throw std::invalid_argument(api + ": x holds a raw outside its format's range");
    std::string where;
    for (int d = 0; d < (conv ? 4 : 2); ++d) where += (d ? ", " : "") + std::to_string(index[d]);
    throw std::invalid_argument(api + ": x[" + where + "] = " + std::to_string(v) + " is outside the raw range [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "] of x's format");
}

}  // namespace fixedpoint
