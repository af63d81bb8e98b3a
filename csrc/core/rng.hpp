// fixedpoint core: counter-based random words for stochastic rounding.
//
// u(seed, index) is output number index+1 of SplitMix64 started from a state
// derived from the seed. It depends only on (seed, element index), so results
// do not depend on the thread count or on how the work is chunked.
#pragma once
#include <cstdint>

#include "isa_ns.hpp"

namespace fixedpoint {
inline namespace FP_PER_ISA_NS {  // see isa_ns.hpp

constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;

inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

inline uint64_t stoch_key(uint64_t seed) { return mix64(seed ^ 0x6A09E667F3BCC909ULL); }

inline uint64_t stoch_bits(uint64_t key, uint64_t index) { return mix64(key + (index + 1) * kGamma); }

}  // namespace FP_PER_ISA_NS
}  // namespace fixedpoint
