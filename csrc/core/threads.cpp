#include "threads.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
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

namespace {

// A persistent pool of worker threads: starting threads for every parallel region cost about
// 50-100 us on the 2-core development VM, more than many kernels' whole work. Workers sleep on
// a condition variable between jobs. One job runs at a time: a parallel_for called while the
// pool is busy (from another Python thread, or nested inside a task) runs inline on its caller.
// The pool is created on first use and never destroyed (its threads are detached and sleep at
// exit); after fork() the child starts a new pool, since the parent's workers do not exist there.
class Pool {
public:
    // Runs fn over C chunks of [0, n) on the caller plus nt - 1 workers. Returns false when the
    // pool is busy (the caller then runs the work itself).
    bool run(int64_t n, int64_t C, int nt, const std::function<void(int64_t, int64_t)>& fn) {
        bool expected = false;
        if (!busy_.compare_exchange_strong(expected, true)) return false;
        try {
            ensure_workers(nt - 1);
        } catch (...) {  // no more threads to be had: use the ones that exist
        }
        const int workers = std::min(nt - 1, started_);
        if (workers == 0) {
            busy_.store(false);
            return false;
        }
        {
            std::lock_guard<std::mutex> lock(m_);
            fn_ = &fn;
            n_ = n;
            chunks_ = C;
            next_.store(0);
            participants_ = workers;
            active_ = workers;
            error_ = nullptr;
            ++generation_;
        }
        work_cv_.notify_all();
        work();
        {
            std::unique_lock<std::mutex> lock(m_);
            done_cv_.wait(lock, [&] { return active_ == 0; });
            fn_ = nullptr;
        }
        std::exception_ptr err = error_;
        busy_.store(false);
        if (err) std::rethrow_exception(err);
        return true;
    }

private:
    // Only the caller holding busy_ starts workers; a worker counts once its thread exists.
    void ensure_workers(int want) {
        while (started_ < want) {
            // the generation before the coming job: the new worker joins that job and every later one
            const int index = started_;
            const uint64_t seen = generation_;  // only this thread writes it (under busy_)
            std::thread([this, index, seen] { loop(index, seen); }).detach();
            ++started_;
        }
    }

    void loop(int index, uint64_t seen) {
        in_worker() = true;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(m_);
                work_cv_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                if (index >= participants_) continue;
            }
            work();
            std::lock_guard<std::mutex> lock(m_);
            if (--active_ == 0) done_cv_.notify_one();
        }
    }

    // Takes chunks until none is left; the first exception stops the handing out.
    void work() {
        for (;;) {
            const int64_t c = next_.fetch_add(1, std::memory_order_relaxed);
            if (c >= chunks_) return;
            const int64_t b = n_ * c / chunks_, e = n_ * (c + 1) / chunks_;
            try {
                (*fn_)(b, e);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex_);
                if (!error_) error_ = std::current_exception();
                next_.store(chunks_);
                return;
            }
        }
    }

public:
    static bool& in_worker() {
        thread_local bool flag = false;
        return flag;
    }

private:
    std::atomic<bool> busy_{false};
    std::mutex m_;
    std::condition_variable work_cv_, done_cv_;
    uint64_t generation_ = 0;
    const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
    int64_t n_ = 0, chunks_ = 0;
    std::atomic<int64_t> next_{0};
    int participants_ = 0, active_ = 0;
    int started_ = 0;
    std::mutex error_mutex_;
    std::exception_ptr error_;
};

std::atomic<Pool*>& pool_slot() {
    static std::atomic<Pool*> slot{nullptr};
    return slot;
}

void forget_pool_after_fork() { pool_slot().store(nullptr); }  // the child's pool starts anew

Pool& pool() {
    Pool* p = pool_slot().load();
    if (p == nullptr) {
        static std::once_flag atfork_once;
        std::call_once(atfork_once, [] { pthread_atfork(nullptr, nullptr, forget_pool_after_fork); });
        Pool* fresh = new Pool();  // never deleted: detached workers use it until exit
        if (pool_slot().compare_exchange_strong(p, fresh)) {
            p = fresh;
        } else {
            delete fresh;  // another thread installed one first (no workers started yet)
        }
    }
    return *p;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t max_chunks = (n + grain - 1) / grain;
    const int nt = int(std::min<int64_t>(get_num_threads(), max_chunks));
    if (nt <= 1 || Pool::in_worker()) {  // nested inside a task: inline
        fn(0, n);
        return;
    }
    // Dynamic schedule: about 8 chunks per thread, handed out through an atomic counter, so a
    // thread the OS deschedules (a busy machine) delays only its current chunk instead of a
    // fixed 1/nt of the work. Chunk c is [n*c/C, n*(c+1)/C), each at least `grain` long.
    const int64_t chunks = std::min<int64_t>(max_chunks > 1 ? n / grain : 1, int64_t(nt) * 8);
    const int64_t C = std::max<int64_t>(chunks, 1);
    if (!pool().run(n, C, nt, fn)) fn(0, n);  // the pool is busy with another caller's job
}

}  // namespace fixedpoint
