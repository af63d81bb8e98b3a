// fixedpoint core: the accumulator-accurate matmul for every width (see accum_wide.hpp).
#include "accum_wide.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "modes.hpp"
#include "rng.hpp"
#include "threads.hpp"
#include "wide_round.hpp"

namespace fixedpoint {

namespace {

using namespace wide_detail;

struct Ctx {
    WideSource a, b;
    int64_t M, K, N;
    Format t;            // the accumulator
    const uint64_t* bias;
    uint64_t key, base;  // STOCH
    uint64_t* out;
    int pw;              // the exact product's width
    int64_t sh;          // product fraction bits - accumulator fraction bits
    int La;              // limbs of an accumulator element
    bool small;          // one-limb operands whose product fits an i128 (pw <= 126)
};

// pq (c.La limbs, extended) = (accum)(x * y): one rounding of the exact product.
template <QMode Q, OMode O>
void cast_product(const Ctx& c, const uint64_t* x, const uint64_t* y, uint64_t u, uint64_t* pq) {
    if (c.small) {
        const i128 mx = c.a.is_signed ? i128(int64_t(x[0])) : i128(x[0]);
        const i128 my = c.b.is_signed ? i128(int64_t(y[0])) : i128(y[0]);
        const i128 m = mx * my;  // |m| < 2^126
        if (O != OMode::WRAP_SM && quantize_small<Q, O>(m, c.sh, c.t, u, pq)) return;
        const uint64_t ml[2] = {uint64_t(u128(m)), uint64_t(u128(m) >> 64)};
        quantize_view<Q, O>(View(ml, 2, true), c.pw, c.sh, c.t, u, pq);
        return;
    }
    uint64_t ma[kWideMaxLimbs], mb[kWideMaxLimbs], p[2 * kWideMaxLimbs + 1];
    const int LA = c.a.limbs, LB = c.b.limbs;
    const bool na = magnitude(x, LA, c.a.is_signed, ma);
    const bool nb = magnitude(y, LB, c.b.is_signed, mb);
    mul_mag(ma, LA, mb, LB, p);
    p[LA + LB] = 0;  // room for the sign: the exact product as a signed (LA + LB + 1)-limb value
    if (na != nb) negate(p, LA + LB + 1);
    quantize_view<Q, O>(View(p, LA + LB + 1, true), c.pw, c.sh, c.t, u, pq);
}

// dst (c.La limbs) = (accum)(sum) for a (w+1)-bit sum outside the accumulator's range (or its
// minimum under SAT_SYM): the same binary point, so only the overflow mode acts.
template <OMode O>
void cast_sum(const Ctx& c, const uint64_t* sum, int lw, uint64_t* dst) {
    quantize_view<QMode::TRN, O>(View(sum, lw, c.t.is_signed), c.t.w + 1, 0, c.t, 0, dst);
}

using ProductFn = void (*)(const Ctx&, const uint64_t*, const uint64_t*, uint64_t, uint64_t*);
using SumFn = void (*)(const Ctx&, const uint64_t*, int, uint64_t*);

// LW limbs hold every running sum (64 LW >= w + 1), extended; the add and the range check unroll.
template <int LW>
void run(const Ctx& c, ProductFn product, SumFn fix, bool stoch, bool sat_sym) {
    const int La = c.La, w = c.t.w;
    const bool s = c.t.is_signed;
    const int64_t K = c.K, N = c.N;
    // in range: bits [w-1, 64 LW) all equal the sign (signed), bits [w, 64 LW) zero (unsigned)
    const int top = s ? w - 1 : w;
    const int tq = top >> 6, tr = top & 63;
    const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, K * N));
    parallel_for(c.M, grain, [&](int64_t r0, int64_t r1) {
        std::vector<uint64_t> acc(size_t(N) * LW);
        uint64_t pq[LW], sum[LW], fixed[LW];
        auto extend = [&](uint64_t* v) {  // La limbs -> LW limbs
            const uint64_t e = s ? uint64_t(int64_t(v[La - 1]) >> 63) : 0;
            for (int t = La; t < LW; ++t) v[t] = e;
        };
        for (int64_t i = r0; i < r1; ++i) {
            for (int64_t j = 0; j < N; ++j) {
                uint64_t* av = acc.data() + j * LW;
                if (c.bias) {
                    std::memcpy(av, c.bias + j * La, sizeof(uint64_t) * size_t(La));
                    extend(av);
                } else {
                    for (int t = 0; t < LW; ++t) av[t] = 0;
                }
            }
            for (int64_t k = 0; k < K; ++k) {
                const uint64_t* x = c.a.p + (i * K + k) * c.a.limbs;
                const uint64_t* brow = c.b.p + k * N * c.b.limbs;
                for (int64_t j = 0; j < N; ++j) {
                    uint64_t u = 0;
                    if (stoch) u = stoch_bits(c.key, c.base + uint64_t(((i * N + j) * K + k) * 2));
                    product(c, x, brow + j * c.b.limbs, u, pq);
                    extend(pq);
                    uint64_t* av = acc.data() + j * LW;
                    u128 carry = 0;
#pragma GCC unroll 17
                    for (int t = 0; t < LW; ++t) {
                        const u128 r = u128(av[t]) + pq[t] + carry;
                        sum[t] = uint64_t(r);
                        carry = r >> 64;
                    }
                    const uint64_t e = s ? uint64_t(int64_t(sum[LW - 1]) >> 63) : 0;
                    bool ok = (sum[tq] >> tr) == (e >> tr);
#pragma GCC unroll 17
                    for (int t = tq + 1; t < LW; ++t) ok = ok && sum[t] == e;
                    if (ok && sat_sym && e) {  // the minimum code becomes -max under SAT_SYM
                        bool low = (sum[tq] & ((uint64_t(1) << tr) - 1)) != 0;
                        for (int t = 0; t < tq; ++t) low = low || sum[t] != 0;
                        ok = low;
                    }
                    if (ok) {
                        for (int t = 0; t < LW; ++t) av[t] = sum[t];
                    } else {
                        fix(c, sum, LW, fixed);
                        extend(fixed);
                        for (int t = 0; t < LW; ++t) av[t] = fixed[t];
                    }
                }
            }
            for (int64_t j = 0; j < N; ++j)
                std::memcpy(c.out + (i * N + j) * La, acc.data() + j * LW, sizeof(uint64_t) * size_t(La));
        }
    });
}

}  // namespace

void wide_matmul_accum(const WideSource& a, const WideSource& b, int64_t M, int64_t K, int64_t N,
                       const Format& accum, const uint64_t* bias, uint64_t seed, uint64_t counter_base,
                       uint64_t* out) {
    if (M < 0 || K < 0 || N < 0)
        throw std::invalid_argument("wide_matmul_accum: negative size M, K, N = " + std::to_string(M) + ", " +
                                    std::to_string(K) + ", " + std::to_string(N));
    if ((a.stride != 1 && M * K > 0) || (b.stride != 1 && K * N > 0))
        throw std::invalid_argument("wide_matmul_accum: operands must be contiguous (element stride 1)");
    if (a.limbs != limbs_for(a.w) || b.limbs != limbs_for(b.w))
        throw std::invalid_argument("wide_matmul_accum: an operand's limb count does not match its width");
    accum.validate();
    Ctx c{a, b, M, K, N, accum, bias, stoch_key(seed), counter_base, out, a.w + b.w,
          int64_t(a.w - a.i) + int64_t(b.w - b.i) - int64_t(accum.f()), limbs_for(accum.w),
          a.limbs == 1 && b.limbs == 1 && a.w + b.w <= 126};
    ProductFn product = nullptr;
    with_modes(accum.q, accum.o, [&](auto qc, auto oc) {
        product = &cast_product<decltype(qc)::value, decltype(oc)::value>;
    });
    SumFn fix = nullptr;
    switch (accum.o) {
        case OMode::WRAP: fix = &cast_sum<OMode::WRAP>; break;
        case OMode::SAT: fix = &cast_sum<OMode::SAT>; break;
        case OMode::SAT_ZERO: fix = &cast_sum<OMode::SAT_ZERO>; break;
        case OMode::SAT_SYM: fix = &cast_sum<OMode::SAT_SYM>; break;
        case OMode::WRAP_SM: fix = &cast_sum<OMode::WRAP_SM>; break;
    }
    const bool stoch = accum.q == QMode::STOCH;
    const bool sat_sym = accum.o == OMode::SAT_SYM;
    const int need = limbs_for(accum.w + 1);
    if (need <= 2)
        run<2>(c, product, fix, stoch, sat_sym);
    else if (need <= 4)
        run<4>(c, product, fix, stoch, sat_sym);
    else if (need <= 8)
        run<8>(c, product, fix, stoch, sat_sym);
    else
        run<kWideMaxLimbs + 1>(c, product, fix, stoch, sat_sym);
}

}  // namespace fixedpoint
