#include "threads.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fixedpoint {

namespace {

int initial_threads() {
    if (const char* env = std::getenv("FIXEDPOINT_NUM_THREADS")) {
        char* end = nullptr;
        long v = std::strtol(env, &end, 10);
        if (end != env && *end == '\0' && v >= 1 && v <= 4096) return int(v);
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc ? int(hc) : 1;
}

std::atomic<int>& thread_count() {
    static std::atomic<int> count{initial_threads()};
    return count;
}

}  // namespace

int get_num_threads() { return thread_count().load(); }

void set_num_threads(int n) {
    if (n < 1 || n > 4096)
        throw std::invalid_argument("set_num_threads: n must be in [1, 4096], got " + std::to_string(n));
    thread_count().store(n);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t max_chunks = (n + grain - 1) / grain;
    const int nt = int(std::min<int64_t>(get_num_threads(), max_chunks));
    if (nt <= 1) {
        fn(0, n);
        return;
    }
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto run = [&](int k) {
        const int64_t b = n * k / nt, e = n * (k + 1) / nt;
        try {
            fn(b, e);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!first_error) first_error = std::current_exception();
        }
    };
    std::vector<std::thread> workers;
    workers.reserve(nt - 1);
    for (int k = 1; k < nt; ++k) workers.emplace_back(run, k);
    run(0);
    for (auto& t : workers) t.join();
    if (first_error) std::rethrow_exception(first_error);
}

}  // namespace fixedpoint
