// fixedpoint core: max pooling dispatch and the padded copy (see pool.hpp).
#include "pool.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels.hpp"
#include "threads.hpp"

namespace fixedpoint {

namespace {

const PoolTable& pool_kernels() {
    return isa_pick<PoolTable>({{Isa::avx2, pool_table<Isa::avx2>}, {Isa::scalar, pool_table<Isa::scalar>}});
}

}  // namespace

void max_pool(const int64_t* x, const PoolGeom& g, int64_t fill, int64_t* out) {
    if (g.S < 0 || g.H < 1 || g.W < 1 || g.C < 1 || g.ph < 1 || g.pw < 1 || g.sh < 1 || g.sw < 1 || g.pt < 0 ||
        g.pb < 0 || g.pl < 0 || g.pr < 0 || g.ph > g.H + g.pt + g.pb || g.pw > g.W + g.pl + g.pr ||
        g.OH != (g.H + g.pt + g.pb - g.ph) / g.sh + 1 || g.OW != (g.W + g.pl + g.pr - g.pw) / g.sw + 1)
        throw std::invalid_argument("max_pool: inconsistent geometry");
    const PoolTable& t = pool_kernels();
    t.max_pool(x, g, fill, out);
}

void raw_minmax(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) {
    const PoolTable& t = pool_kernels();
    t.minmax(x, n, mn, mx);
}

void pad_nhwc(const int64_t* x, int64_t S, int64_t H, int64_t W, int64_t C, int64_t pt, int64_t pl, int64_t Hc,
              int64_t Wc, int64_t fill, int64_t* out) {
    if (S < 0 || H < 1 || W < 1 || C < 1 || pt < 0 || pl < 0 || Hc < 1 || Wc < 1)
        throw std::invalid_argument("pad_nhwc: inconsistent geometry");
    const int64_t row = Wc * C;
    parallel_for(S * Hc, std::max<int64_t>(1, (int64_t(1) << 14) / row), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t s = r / Hc, h = r % Hc - pt;
            int64_t* o = out + r * row;
            if (h < 0 || h >= H) {
                std::fill(o, o + row, fill);
                continue;
            }
            const int64_t* xr = x + (s * H + h) * W * C;
            const int64_t w0 = std::min(pl, Wc), w1 = std::min(Wc, pl + W);  // [w0, w1) copies x
            std::fill(o, o + w0 * C, fill);
            if (w1 > w0) std::copy(xr, xr + (w1 - w0) * C, o + w0 * C);
            std::fill(o + std::max(w0, w1) * C, o + row, fill);
        }
    });
}

}  // namespace fixedpoint
