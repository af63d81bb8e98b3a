// fixedpoint core: max pooling bodies, included once per ISA translation unit (the including file
// defines FP_ISA_NS and FP_ISA, for which it defines pool_table<FP_ISA>(), and is compiled with that
// ISA's flags; the inner loops run over
// contiguous channels and output pixels, which the compiler vectorizes with the ISA's compares).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "pool.hpp"
#include "threads.hpp"

namespace fixedpoint {
namespace FP_ISA_NS {
namespace {

// One output row (s, oh): OW * C maxima, in two passes. Vertical: v[w, c] = the maximum over the
// window's rows dh of x[oh*sh + dh - pt, w, c] (contiguous W*C runs; rows in the padding contribute
// `fill`). Horizontal: out[ow, c] = the maximum over dw of v[ow*sw + dw - pl, c] (columns in the
// padding contribute `fill`). max is associative and commutative, so this is the window maximum.
// CC: the channel count when known at compile time (0: g.C).
template <int CC>
void pool_row(const int64_t* xs, const PoolGeom& g, int64_t oh, int64_t fill, int64_t* o, int64_t* v) {
    const int64_t C = CC ? CC : g.C;
    const int64_t WC = g.W * C;
    int rows = 0;
    bool padded = false;
    for (int64_t dh = 0; dh < g.ph; ++dh) {
        const int64_t h = oh * g.sh + dh - g.pt;
        if (h < 0 || h >= g.H) {
            padded = true;
            continue;
        }
        const int64_t* xr = xs + h * WC;
        if (rows++ == 0)
            for (int64_t t = 0; t < WC; ++t) v[t] = xr[t];
        else
            for (int64_t t = 0; t < WC; ++t) v[t] = std::max(v[t], xr[t]);
    }
    if (rows == 0)
        for (int64_t t = 0; t < WC; ++t) v[t] = fill;
    else if (padded)
        for (int64_t t = 0; t < WC; ++t) v[t] = std::max(v[t], fill);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
        int64_t* oc = o + ow * C;
        for (int64_t dw = 0; dw < g.pw; ++dw) {
            const int64_t w = ow * g.sw + dw - g.pl;
            if (w < 0 || w >= g.W) {
                if (dw == 0)
                    for (int64_t c = 0; c < C; ++c) oc[c] = fill;
                else
                    for (int64_t c = 0; c < C; ++c) oc[c] = std::max(oc[c], fill);
                continue;
            }
            const int64_t* vc = v + w * C;
            if (dw == 0)
                for (int64_t c = 0; c < C; ++c) oc[c] = vc[c];
            else
                for (int64_t c = 0; c < C; ++c) oc[c] = std::max(oc[c], vc[c]);
        }
    }
}

template <int CC>
void pool_rows(const int64_t* x, const PoolGeom& g, int64_t fill, int64_t* out, int64_t r0, int64_t r1) {
    std::vector<int64_t> v(size_t(g.W * g.C));
    const int64_t per = g.OW * g.C;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t s = r / g.OH, oh = r % g.OH;
        pool_row<CC>(x + s * g.H * g.W * g.C, g, oh, fill, out + r * per, v.data());
    }
}

// Every output row (s, oh), threaded over rows.
void max_pool_impl(const int64_t* x, const PoolGeom& g, int64_t fill, int64_t* out) {
    const int64_t rows = g.S * g.OH;
    const int64_t per = g.OW * g.C;
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, per * g.ph * g.pw));
    parallel_for(rows, grain, [&](int64_t r0, int64_t r1) {
        switch (g.C) {
            case 1: pool_rows<1>(x, g, fill, out, r0, r1); break;
            case 2: pool_rows<2>(x, g, fill, out, r0, r1); break;
            case 4: pool_rows<4>(x, g, fill, out, r0, r1); break;
            case 8: pool_rows<8>(x, g, fill, out, r0, r1); break;
            case 16: pool_rows<16>(x, g, fill, out, r0, r1); break;
            default: pool_rows<0>(x, g, fill, out, r0, r1); break;
        }
    });
}

void minmax_impl(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) {
    int64_t a = *mn, b = *mx;
    for (int64_t t = 0; t < n; ++t) {
        a = std::min(a, x[t]);
        b = std::max(b, x[t]);
    }
    *mn = a;
    *mx = b;
}

}  // namespace
}  // namespace FP_ISA_NS

template <>
const PoolTable& pool_table<FP_ISA>() {
    static const PoolTable table{&FP_ISA_NS::max_pool_impl, &FP_ISA_NS::minmax_impl};
    return table;
}

}  // namespace fixedpoint
