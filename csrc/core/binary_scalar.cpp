// Binary kernels compiled for the 'scalar' instruction set (no ISA flags).
#define FP_BIN_NS bin_scalar
#define FP_ISA Isa::scalar
#include "binary_impl.hpp"
