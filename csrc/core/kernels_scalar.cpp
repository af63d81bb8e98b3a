// Kernels compiled for the 'scalar' instruction set (no ISA flags: the generic build).
#define FP_ISA_NS isa_scalar
#define FP_ISA Isa::scalar
#include "kernels_impl.hpp"
