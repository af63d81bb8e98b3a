// dense_accum compiled for the scalar instruction set (flags set in CMakeLists.txt).
#define FP_ISA_NS accum_scalar
#define FP_TABLE_FN accum_kernels_scalar
#include "accum_impl.hpp"
