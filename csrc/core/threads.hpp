// fixedpoint core: a minimal parallel-for over index ranges (Python-free).
#pragma once
#include <cstdint>
#include <functional>

namespace fixedpoint {

// Number of worker threads kernels may use (>= 1). The initial value comes from
// FIXEDPOINT_NUM_THREADS, else the number of hardware threads.
int get_num_threads();
void set_num_threads(int n);  // throws std::invalid_argument for n < 1

// Calls fn(begin, end) on disjoint chunks covering [0, n). Chunks hold at least
// `grain` elements; the calling thread takes part. Exceptions thrown by fn are
// rethrown (the first one) after every chunk has finished.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace fixedpoint
