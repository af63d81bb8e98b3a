// max pooling compiled for the avx2 instruction set (flags set in CMakeLists.txt).
#define FP_ISA_NS pool_avx2
#define FP_ISA Isa::avx2
#include "pool_impl.hpp"
