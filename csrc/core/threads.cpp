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
    // Dynamic schedule: about 8 chunks per thread, handed out through an atomic counter, so a
    // thread the OS deschedules (a busy machine) delays only its current chunk instead of a
    // fixed 1/nt of the work. Chunk c is [n*c/C, n*(c+1)/C), each at least `grain` long.
    const int64_t chunks = std::min<int64_t>(max_chunks > 1 ? n / grain : 1, int64_t(nt) * 8);
    const int64_t C = std::max<int64_t>(chunks, 1);
    std::atomic<int64_t> next{0};
    std::exception_ptr first_error;
    std::mutex error_mutex;
    auto run = [&](int) {
        for (;;) {
            const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
            if (c >= C) return;
            const int64_t b = n * c / C, e = n * (c + 1) / C;
            try {
                fn(b, e);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
                next.store(C);  // stop handing out work
                return;
            }
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
