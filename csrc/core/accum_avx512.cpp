// dense_accum compiled for the avx512 instruction set (flags set in CMakeLists.txt).
#define FP_ISA_NS accum_avx512
#define FP_ISA Isa::avx512
#include "accum_impl.hpp"
