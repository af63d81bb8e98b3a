// Binary kernels compiled for the 'avx2' instruction set (flags set in CMakeLists.txt):
// 256-bit xor + vpshufb nibble-table popcount, summed with vpsadbw.
#define FP_BIN_NS bin_avx2
#define FP_ISA Isa::avx2
#define FP_BIN_AVX2 1
#include "binary_impl.hpp"
