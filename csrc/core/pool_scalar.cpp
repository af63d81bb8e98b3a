// max pooling compiled for the scalar instruction set (flags set in CMakeLists.txt).
#define FP_ISA_NS pool_scalar
#define FP_ISA Isa::scalar
#include "pool_impl.hpp"
