// Kernels compiled for the 'scalar' instruction set (flags set in CMakeLists.txt).
#define FP_ISA_NS isa_scalar
#define FP_ISA Isa::scalar
#include "kernels_impl.hpp"
