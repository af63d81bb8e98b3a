// max pooling compiled for the scalar instruction set (no ISA flags).
#define FP_ISA_NS pool_scalar
#define FP_ISA Isa::scalar
#include "pool_impl.hpp"
