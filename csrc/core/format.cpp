#include "format.hpp"

#include <algorithm>
#include <atomic>

#include "threads.hpp"

namespace fixedpoint {

const char* qmode_name(QMode q) {
    switch (q) {
        case QMode::TRN: return "TRN";
        case QMode::TRN_ZERO: return "TRN_ZERO";
        case QMode::RND: return "RND";
        case QMode::RND_ZERO: return "RND_ZERO";
        case QMode::RND_MIN_INF: return "RND_MIN_INF";
        case QMode::RND_INF: return "RND_INF";
        case QMode::RND_CONV: return "RND_CONV";
        case QMode::STOCH: return "STOCH";
    }
    return "?";
}

const char* omode_name(OMode o) {
    switch (o) {
        case OMode::WRAP: return "WRAP";
        case OMode::SAT: return "SAT";
        case OMode::SAT_ZERO: return "SAT_ZERO";
        case OMode::SAT_SYM: return "SAT_SYM";
        case OMode::WRAP_SM: return "WRAP_SM";
    }
    return "?";
}

void Format::validate() const {
    if (w < 1 || w > kMaxWidth)
        throw std::invalid_argument("Fixed: w must be in [1, " + std::to_string(kMaxWidth) +
                                    "], got w=" + std::to_string(w));
    if (i < -kMaxIntBits || i > kMaxIntBits)
        throw std::invalid_argument("Fixed: i (integer bits) must be in [-2**20, 2**20] = [" +
                                    std::to_string(-kMaxIntBits) + ", " + std::to_string(kMaxIntBits) +
                                    "], got i=" + std::to_string(i));
    if (int(q) < 0 || int(q) > int(QMode::STOCH))
        throw std::invalid_argument("Fixed: unknown rounding mode q=" + std::to_string(int(q)));
    if (int(o) < 0 || int(o) > int(OMode::WRAP_SM))
        throw std::invalid_argument("Fixed: unknown overflow mode o=" + std::to_string(int(o)));
    if (n < 0 || n > w)
        throw std::invalid_argument("Fixed: n must be in [0, w=" + std::to_string(w) +
                                    "], got n=" + std::to_string(n));
    if (n != 0 && o != OMode::WRAP && o != OMode::WRAP_SM)
        throw std::invalid_argument(std::string("Fixed: n (saturation bits) must be 0 unless o is WRAP or WRAP_SM, got o=") +
                                    omode_name(o) + " n=" + std::to_string(n));
    if (o == OMode::WRAP_SM && !is_signed)
        throw std::invalid_argument("Fixed: o=WRAP_SM requires a signed format (ap_ufixed rejects it)");
}

namespace {

int64_t first_outside_serial(const int64_t* v, int64_t b, int64_t e, int64_t stride, int w, uint64_t off) {
    constexpr int64_t kBlock = 4096;
    for (int64_t b0 = b; b0 < e; b0 += kBlock) {
        const int64_t b1 = std::min(e, b0 + kBlock);
        uint64_t bad = 0;
        if (stride == 1)
            for (int64_t t = b0; t < b1; ++t) bad |= (uint64_t(v[t]) + off) >> w;
        else
            for (int64_t t = b0; t < b1; ++t) bad |= (uint64_t(v[t * stride]) + off) >> w;
        if (bad)
            for (int64_t t = b0; t < b1; ++t)
                if ((uint64_t(v[t * stride]) + off) >> w) return t;
    }
    return -1;
}

}  // namespace

int64_t first_raw_outside(const int64_t* v, int64_t n, int64_t stride, int w, bool s) {
    if (w >= 64 || n <= 0) return -1;
    const uint64_t off = s ? uint64_t(1) << (w - 1) : 0;
    constexpr int64_t kGrain = int64_t(1) << 17;
    if (n < 2 * kGrain || get_num_threads() == 1) return first_outside_serial(v, 0, n, stride, w, off);
    std::atomic<int64_t> first{n};
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
        if (b >= first.load(std::memory_order_relaxed)) return;
        const int64_t k = first_outside_serial(v, b, e, stride, w, off);
        int64_t cur = first.load(std::memory_order_relaxed);
        while (k >= 0 && k < cur && !first.compare_exchange_weak(cur, k, std::memory_order_relaxed)) {
        }
    });
    return first.load() == n ? -1 : first.load();
}

}  // namespace fixedpoint
