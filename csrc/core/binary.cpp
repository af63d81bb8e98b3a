// fixedpoint core: the binary kernels' dispatch (see binary.hpp).
#include "binary.hpp"

namespace fixedpoint {

const BinaryKernelTable& binary_kernels() {
    return isa_pick<BinaryKernelTable>(
        {{Isa::avx512_vnni, binary_table<Isa::avx512_vnni>},
         {Isa::avx2, binary_table<Isa::avx2>},
         {Isa::scalar, binary_table<Isa::scalar>}});
}

}  // namespace fixedpoint
