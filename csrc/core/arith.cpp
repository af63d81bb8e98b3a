// fixedpoint core: exact elementwise arithmetic and accumulator-accurate matmul.
#include "arith.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "modes.hpp"
#include "quantize_scalar.hpp"
#include "rng.hpp"
#include "threads.hpp"

namespace fixedpoint {

namespace {

constexpr int64_t kGrain = 1 << 14;
constexpr int64_t kBlock = 256;

inline i128 load(int64_t v, bool s) { return s ? i128(v) : i128(uint64_t(v)); }

// v reduced to w bits (1 <= w <= 127), sign-extended when s.
inline i128 wrap_to(i128 v, int w, bool s) {
    const u128 mask = (u128(1) << w) - 1;
    u128 bits = u128(v) & mask;
    if (s && ((bits >> (w - 1)) & 1)) bits |= ~mask;
    return i128(bits);
}

struct Prepared {
    ArithOp op;
    bool s1, s2;
    int sh1, sh2;   // add/sub/cmp: left shifts aligning both to the result LSB
    int div_sh;     // div: numerator shift max(F2, 0)
    bool div64;     // div: numerator and divisor fit int64
    int div_w;      // div: width of the quotient computation
    bool div_s;
    int rw;
    bool rs;
};

// Exact natural results of elements [b, e) into m; returns the first zero divisor or -1.
// T = int64_t only when the natural width is at most 62 bits (then every intermediate fits).
template <class T>
int64_t natural_block(const Prepared& p, const Operand& a, const Operand& b, int ndim, const int64_t* shape,
                      int64_t begin, int64_t end, T* m) {
    // multi-index of `begin`
    int64_t idx[64];
    int64_t rem = begin;
    for (int d = ndim - 1; d >= 0; --d) {
        idx[d] = shape[d] ? rem % shape[d] : 0;
        rem = shape[d] ? rem / shape[d] : 0;
    }
    int64_t oa = 0, ob = 0;
    for (int d = 0; d < ndim; ++d) {
        oa += idx[d] * a.strides[d];
        ob += idx[d] * b.strides[d];
    }
    int64_t first_zero = -1;
    const int last = ndim - 1;
    for (int64_t j = begin; j < end; ++j) {
        const T x = T(load(a.data[oa], p.s1)), y = T(load(b.data[ob], p.s2));
        T r;
        switch (p.op) {
            case ArithOp::add: r = x * (T(1) << p.sh1) + y * (T(1) << p.sh2); break;
            case ArithOp::sub:
            case ArithOp::cmp: r = x * (T(1) << p.sh1) - y * (T(1) << p.sh2); break;
            case ArithOp::mul: r = x * y; break;
            default: {  // div
                if (y == 0) {
                    if (first_zero < 0) first_zero = j;
                    r = 0;
                    break;
                }
                const i128 num = i128(x) * (i128(1) << p.div_sh);
                // C++ division truncates toward zero; 64-bit division when both fit (much faster)
                const i128 q = p.div64 ? i128(int64_t(num) / int64_t(y)) : num / i128(y);
                r = T(wrap_to(wrap_to(q, p.div_w, p.div_s), p.rw, p.rs));
            }
        }
        m[j - begin] = r;
        // advance the multi-index
        if (ndim == 0) continue;
        int d = last;
        ++idx[d];
        oa += a.strides[d];
        ob += b.strides[d];
        while (idx[d] == shape[d] && d > 0) {
            oa -= idx[d] * a.strides[d];
            ob -= idx[d] * b.strides[d];
            idx[d] = 0;
            --d;
            ++idx[d];
            oa += a.strides[d];
            ob += b.strides[d];
        }
    }
    return first_zero;
}

}  // namespace

NaturalFormat natural_format(ArithOp op, const SourceFormat& a, const SourceFormat& b) {
    const int f1 = a.w - a.i, f2 = b.w - b.i;
    const bool s1 = a.is_signed, s2 = b.is_signed;
    NaturalFormat r{};
    switch (op) {
        case ArithOp::add:
        case ArithOp::sub:
        case ArithOp::cmp: {
            const int i = std::max(a.i + (s2 && !s1), b.i + (s1 && !s2)) + 1;
            r.i = i;
            r.w = i + std::max(f1, f2);
            r.is_signed = op == ArithOp::add ? (s1 || s2) : true;
            break;
        }
        case ArithOp::mul:
            r = {a.w + b.w, a.i + b.i, s1 || s2, 0};
            break;
        case ArithOp::div:
            r.w = int(s2) + a.w + std::max(f2, 0);
            r.i = int(s2) + a.i + f2;
            r.is_signed = s1 || s2;
            r.div_w = std::max(a.w + std::max(f2, 0) + int(s2 && !s1), b.w + int(s1 && !s2));
            break;
    }
    return r;
}

int64_t arith_elementwise(ArithOp op, const Operand& a, const Operand& b, int ndim, const int64_t* shape,
                          const Format* out_fmt, uint64_t seed, int64_t* out, int64_t* out_hi) {
    if (ndim > 64) throw std::invalid_argument("arith: at most 64 dimensions");
    const NaturalFormat nf = natural_format(op, a.fmt, b.fmt);
    if (nf.w > kArithMaxNaturalWidth || nf.w < 1 || (op == ArithOp::div && nf.div_w > kArithMaxNaturalWidth))
        throw std::invalid_argument("arith: the natural result width " + std::to_string(nf.w) +
                                    " exceeds the native limit of " + std::to_string(kArithMaxNaturalWidth) + " bits");
    Prepared p{};
    p.op = op;
    p.s1 = a.fmt.is_signed;
    p.s2 = b.fmt.is_signed;
    const int f1 = a.fmt.w - a.fmt.i, f2 = b.fmt.w - b.fmt.i;
    const int rf = nf.w - nf.i;
    if (op == ArithOp::add || op == ArithOp::sub || op == ArithOp::cmp) {
        p.sh1 = rf - f1;
        p.sh2 = rf - f2;
    }
    p.div_sh = std::max(f2, 0);
    p.div64 = a.fmt.w + p.div_sh + int(!p.s1) <= 63 && b.fmt.w + int(!p.s2) <= 63;
    p.div_w = nf.div_w;
    p.div_s = p.s1 || p.s2;
    p.rw = nf.w;
    p.rs = nf.is_signed;
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= shape[d];
    std::atomic<int64_t> first{-1};
    auto note_zero = [&](int64_t z) {
        if (z < 0) return;
        int64_t cur = first.load();
        while ((cur < 0 || z < cur) && !first.compare_exchange_weak(cur, z)) {
        }
    };
    if (out_fmt == nullptr) {
        parallel_for(n, kGrain, [&](int64_t b0, int64_t e0) {
            i128 m[kBlock];
            for (int64_t s = b0; s < e0; s += kBlock) {
                const int64_t e = std::min(e0, s + kBlock);
                note_zero(natural_block(p, a, b, ndim, shape, s, e, m));
                if (op == ArithOp::cmp) {
                    for (int64_t j = s; j < e; ++j) out[j] = m[j - s] < 0 ? -1 : (m[j - s] > 0 ? 1 : 0);
                } else {
                    for (int64_t j = s; j < e; ++j) {
                        out[j] = int64_t(uint64_t(u128(m[j - s])));
                        if (out_hi) out_hi[j] = int64_t(m[j - s] >> 64);
                    }
                }
            }
        });
        return first.load();
    }
    const Format fm = *out_fmt;
    if (fm.w > kNativeMaxWidth) throw std::invalid_argument("arith: the output format must have w <= 64");
    const Target t(fm);
    const uint64_t key = stoch_key(seed);
    // The int64 pass reads the operands as int64 too: a 64-bit unsigned operand (possible in a
    // division, whose natural width can be below the divisor's) must take the 128-bit pass.
    const bool narrow = fits_requant64(nf.w, rf, fm) && a.fmt.w + int(!p.s1) <= 63 && b.fmt.w + int(!p.s2) <= 63;
    with_modes(fm.q, fm.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        parallel_for(n, kGrain, [&](int64_t b0, int64_t e0) {
            i128 m[kBlock];
            int64_t m64[kBlock];
            for (int64_t s = b0; s < e0; s += kBlock) {
                const int64_t e = std::min(e0, s + kBlock);
                if (narrow) {
                    note_zero(natural_block(p, a, b, ndim, shape, s, e, m64));
                    const int sh = rf - t.f;
                    for (int64_t j = s; j < e; ++j) {
                        const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
                        out[j] = requant64<Q, O>(m64[j - s], sh, t, u);
                    }
                } else {
                    note_zero(natural_block(p, a, b, ndim, shape, s, e, m));
                    for (int64_t j = s; j < e; ++j) {
                        const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
                        out[j] = quantize_one<Q, O>(m[j - s], nf.w, rf, t, u);
                    }
                }
            }
        });
    });
    return first.load();
}

void matmul_accum(const int64_t* a, const SourceFormat& fa, const int64_t* b, const SourceFormat& fb, int64_t M,
                  int64_t K, int64_t N, const Format& accum, const int64_t* bias, uint64_t seed,
                  uint64_t counter_base, int64_t* out) {
    if (fa.w + fb.w > kArithMaxNaturalWidth)
        throw std::invalid_argument("matmul_accum: product width " + std::to_string(fa.w + fb.w) +
                                    " exceeds the native limit of " + std::to_string(kArithMaxNaturalWidth) + " bits");
    if (accum.w > kNativeMaxWidth) throw std::invalid_argument("matmul_accum: accum must have w <= 64");
    const Target t(accum);
    const int pw = fa.w + fb.w, pf = (fa.w - fa.i) + (fb.w - fb.i);
    const int af = accum.f();
    const bool s1 = fa.is_signed, s2 = fb.is_signed, sa = accum.is_signed;
    const uint64_t key = stoch_key(seed);
    // int64 fast path: products and running sums fit 62 bits (operands of unsigned 64-bit
    // formats are excluded by the widths).
    const bool narrow = fits_requant64(pw, pf, accum) && fits_requant64(accum.w + 1, af, accum);
    const int psh = pf - af;
    with_modes(accum.q, accum.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, K * N));
        parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
            std::vector<int64_t> acc(static_cast<size_t>(N));
            if constexpr (O == OMode::WRAP) {
                if (narrow) {
                    // Exact reordering (docs/arrays.md): with WRAP and n = 0 every cast is the
                    // rounding (per product) followed by reduction modulo 2^w, and the running
                    // sums carry no rounding (they have accum's fraction bits). Reduction mod
                    // 2^w is a ring homomorphism, so summing the rounded products modulo 2^64
                    // and wrapping once at the end gives the sequential result bit for bit.
                    std::vector<uint64_t> sum(static_cast<size_t>(N));
                    for (int64_t i = r0; i < r1; ++i) {
                        for (int64_t j = 0; j < N; ++j) sum[size_t(j)] = bias ? uint64_t(bias[j]) : 0;
                        for (int64_t k = 0; k < K; ++k) {
                            const int64_t x = a[i * K + k];
                            const int64_t* brow = b + k * N;
                            for (int64_t j = 0; j < N; ++j) {
                                uint64_t u1 = 0;
                                if constexpr (Q == QMode::STOCH)
                                    u1 = stoch_bits(key, counter_base + uint64_t(((i * N + j) * K + k) * 2));
                                sum[size_t(j)] += uint64_t(requant64<Q, O>(x * brow[j], psh, t, u1));
                            }
                        }
                        for (int64_t j = 0; j < N; ++j)
                            out[i * N + j] = requant64<QMode::TRN, OMode::WRAP>(int64_t(sum[size_t(j)]), 0, t, 0);
                    }
                    return;
                }
            }
            for (int64_t i = r0; i < r1; ++i) {
                for (int64_t j = 0; j < N; ++j) acc[size_t(j)] = bias ? bias[j] : 0;
                for (int64_t k = 0; k < K; ++k) {
                    const i128 x = load(a[i * K + k], s1);
                    const int64_t* brow = b + k * N;
                    for (int64_t j = 0; j < N; ++j) {
                        const uint64_t ctr = counter_base + uint64_t(((i * N + j) * K + k) * 2);
                        const uint64_t u1 = Q == QMode::STOCH ? stoch_bits(key, ctr) : 0;
                        const uint64_t u2 = Q == QMode::STOCH ? stoch_bits(key, ctr + 1) : 0;
                        if (narrow) {
                            const int64_t pq = requant64<Q, O>(int64_t(x) * brow[j], psh, t, u1);
                            acc[size_t(j)] = requant64<Q, O>(acc[size_t(j)] + pq, 0, t, u2);
                        } else {
                            const int64_t pq = quantize_one<Q, O>(x * load(brow[j], s2), pw, pf, t, u1);
                            const i128 sum = load(acc[size_t(j)], sa) + load(pq, sa);
                            acc[size_t(j)] = quantize_one<Q, O>(sum, accum.w + 1, af, t, u2);
                        }
                    }
                }
                for (int64_t j = 0; j < N; ++j) out[i * N + j] = acc[size_t(j)];
            }
        });
    });
}

}  // namespace fixedpoint
