// fixedpoint core: multi-limb (wide) kernels. See wide.hpp for the storage convention.
//
// Values are read through View (wide_round.hpp, with the exact rounding quantize_view and its
// 128-bit fast path quantize_small, shared with the wide accumulator in accum_wide.cpp).
#include "wide.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include <x86intrin.h>  // _addcarry_u64 (the limb adds' carry chain)

#include "kernels.hpp"
#include "modes.hpp"
#include "quantize_scalar.hpp"
#include "rng.hpp"
#include "threads.hpp"
#include "wide_round.hpp"

namespace fixedpoint {

void wide_addsub2_avx2(const uint64_t* a, const uint64_t* b, int64_t n, bool sub, uint64_t* out);  // wide_avx2.cpp

namespace {

using namespace wide_detail;

inline int64_t grain_for(int limbs) { return std::max<int64_t>(1024 / std::max(limbs, 1), 64); }

double to_double_one(const uint64_t* x, int n, bool s, int f) {
    uint64_t mag[kWideMaxLimbs + 1];
    const bool neg = magnitude(x, n, s, mag);
    int top = n - 1;
    while (top >= 0 && mag[top] == 0) --top;
    if (top < 0) return 0.0;
    const int64_t bitlen = 64 * int64_t(top) + (64 - __builtin_clzll(mag[top]));
    const View v(mag, n, false);
    const int64_t e = bitlen - 1 - f;
    int64_t p = 53;
    if (e < -1022) p = 53 - (-1022 - e);  // gradual underflow: fewer significant bits
    const int64_t shift = bitlen - p;
    uint64_t q;
    if (shift <= 0) {
        q = v.bits64(0) << (-shift);  // bitlen <= 53: exact
    } else {
        q = shift >= bitlen ? 0 : v.bits64(shift);
        if (p < 64) q &= low_mask64(int(std::max<int64_t>(p, 0)));
        const bool half = v.bit(shift - 1);
        if (half && (v.any_below(shift - 1) || (q & 1))) ++q;
    }
    const double d = std::ldexp(double(q), int(std::clamp<int64_t>(shift - f, -100000, 100000)));
    return neg ? -d : d;
}

// acc (n limbs) += or -= p (pn limbs, unsigned), modulo 2^(64 n).
inline void acc_add(uint64_t* acc, int n, const uint64_t* p, int pn, bool sub) {
    u128 carry = sub ? 1 : 0;
    for (int k = 0; k < n; ++k) {
        const uint64_t pk = k < pn ? p[k] : 0;
        const u128 t = u128(acc[k]) + u128(sub ? ~pk : pk) + carry;
        acc[k] = uint64_t(t);
        carry = t >> 64;
    }
}

// Magnitudes and signs of a contiguous block of elements.
struct Mags {
    std::vector<uint64_t> mag;
    std::vector<uint8_t> neg;
};

Mags mags_of(const WideSource& a, int64_t count, bool transpose, int64_t rows, int64_t cols) {
    Mags m;
    const int L = a.limbs;
    m.mag.resize(size_t(count) * size_t(L));
    m.neg.resize(size_t(count));
    for (int64_t e = 0; e < count; ++e) {
        // transpose: destination index e = c * rows + r reads source r * cols + c
        const int64_t src = transpose ? (e % rows) * cols + (e / rows) : e;
        m.neg[size_t(e)] = magnitude(a.p + src * L, L, a.is_signed, m.mag.data() + e * L);
    }
    return m;
}

// Exact signed dot products of magnitudes: acc (LA + LB + 1 limbs, enough for K < 2^64 terms)
// += or -= |a| |b|, fully unrolled; the exact value fits Lr <= LA + LB + 1 limbs.
template <int LA, int LB>
void matmul_fixed(const Mags& A, const Mags& Bt, int64_t M, int64_t K, int64_t N, int Lr, uint64_t* out) {
    constexpr int ACC = LA + LB + 1;
    parallel_for(M * N, std::max<int64_t>(16, 4096 / std::max<int64_t>(K, 1)), [&](int64_t b, int64_t e) {
        uint64_t acc[ACC];
        uint64_t p[LA + LB];
        for (int64_t o = b; o < e; ++o) {
            const int64_t i = o / N, j = o % N;
            for (int k = 0; k < ACC; ++k) acc[k] = 0;
            const uint64_t* a = A.mag.data() + i * K * LA;
            const uint64_t* bt = Bt.mag.data() + j * K * LB;
            const uint8_t* sa = A.neg.data() + i * K;
            const uint8_t* sb = Bt.neg.data() + j * K;
            for (int64_t k = 0; k < K; ++k) {
                mul_mag_fixed<LA, LB>(a + k * LA, bt + k * LB, p);
                const uint64_t flip = (sa[k] != sb[k]) ? ~uint64_t(0) : 0;
                unsigned char c = flip ? 1 : 0;
#pragma GCC unroll 17
                for (int t = 0; t < ACC; ++t) {
                    unsigned long long r;
                    c = _addcarry_u64(c, acc[t], (t < LA + LB ? p[t] : 0) ^ flip, &r);
                    acc[t] = r;
                }
            }
            std::memcpy(out + o * Lr, acc, sizeof(uint64_t) * size_t(std::min(Lr, ACC)));
            for (int t = ACC; t < Lr; ++t) out[o * Lr + t] = uint64_t(int64_t(acc[ACC - 1]) >> 63);
        }
    });
}

void matmul_general(const Mags& A, int LA, const Mags& Bt, int LB, int64_t M, int64_t K, int64_t N, int Lr,
                    uint64_t* out) {
    parallel_for(M * N, 16, [&](int64_t b, int64_t e) {
        uint64_t acc[kCap];
        uint64_t p[2 * kWideMaxLimbs + 2];
        for (int64_t o = b; o < e; ++o) {
            const int64_t i = o / N, j = o % N;
            for (int k = 0; k < Lr; ++k) acc[k] = 0;
            for (int64_t k = 0; k < K; ++k) {
                mul_mag(A.mag.data() + (i * K + k) * LA, LA, Bt.mag.data() + (j * K + k) * LB, LB, p);
                acc_add(acc, Lr, p, LA + LB, A.neg[size_t(i * K + k)] != Bt.neg[size_t(j * K + k)]);
            }
            std::memcpy(out + o * Lr, acc, sizeof(uint64_t) * size_t(Lr));
        }
    });
}

// a +- b for operands with the same binary point (no alignment shifts), LR result limbs.
template <int LR>
void addsub_aligned(const WideSource& a, const WideSource& b, int64_t n, bool sub,
                    uint64_t* out) {
    parallel_for(n, 2048, [&](int64_t lo, int64_t hi) {
        for (int64_t k = lo; k < hi; ++k) {
            const uint64_t* pa = a.p + k * a.stride * a.limbs;
            const uint64_t* pb = b.p + k * b.stride * b.limbs;
            const uint64_t ea = (a.is_signed && int64_t(pa[a.limbs - 1]) < 0) ? ~uint64_t(0) : 0;
            const uint64_t eb = (b.is_signed && int64_t(pb[b.limbs - 1]) < 0) ? ~uint64_t(0) : 0;
            uint64_t* o = out + k * LR;
            unsigned char c = sub ? 1 : 0;
            for (int t = 0; t < LR; ++t) {
                const uint64_t x = t < a.limbs ? pa[t] : ea;
                uint64_t y = t < b.limbs ? pb[t] : eb;
                if (sub) y = ~y;
                unsigned long long r;
                c = _addcarry_u64(c, x, y, &r);
                o[t] = r;
            }
            // No normalize: the exact result fits res_w <= 64 * LR bits, so the arithmetic modulo
            // 2^(64 LR) on extended operands is already its extended form.
        }
    });
}

// Fully unrolled a +- b for LA-limb and LB-limb operands into LR limbs (same binary point).
template <int LA, int LB, int LR>
void addsub_unrolled(const WideSource& a, const WideSource& b, int64_t n, bool sub, uint64_t* out) {
    parallel_for(n, 4096, [&](int64_t lo, int64_t hi) {
        // Locals, not a.*/b.* fields: stores through `out` (uint64_t) may alias int64_t fields,
        // which would force a reload of every field after every store.
        const int64_t sa = a.stride * LA, sb = b.stride * LB;
        const uint64_t* const A = a.p;
        const uint64_t* const B = b.p;
        const uint64_t sga = a.is_signed ? ~uint64_t(0) : 0, sgb = b.is_signed ? ~uint64_t(0) : 0;
        const uint64_t flip = sub ? ~uint64_t(0) : 0;
        const unsigned c0 = sub ? 1 : 0;
        uint64_t* const O = out;
        for (int64_t k = lo; k < hi; ++k) {
            const uint64_t* pa = A + k * sa;
            const uint64_t* pb = B + k * sb;
            const uint64_t ea = uint64_t(int64_t(pa[LA - 1]) >> 63) & sga;
            const uint64_t eb = uint64_t(int64_t(pb[LB - 1]) >> 63) & sgb;
            uint64_t* o = O + k * LR;
            u128 c = c0;
#pragma GCC unroll 8
            for (int t = 0; t < LR; ++t) {
                const uint64_t x = t < LA ? pa[t] : ea;
                const uint64_t y = (t < LB ? pb[t] : eb) ^ flip;
                const u128 r = u128(x) + y + c;
                o[t] = uint64_t(r);
                c = r >> 64;
            }
        }
    });
}

template <int NA, int NB>
void mul_fixed_limbs(const WideSource& a, const WideSource& b, int64_t n, int res_w, uint64_t* out) {
    const int Lr = limbs_for(res_w);
    parallel_for(n, 1024, [&](int64_t lo, int64_t hi) {
        uint64_t ma[NA], mb[NB], p[NA + NB];
        const uint64_t* const A = a.p;
        const uint64_t* const B = b.p;
        const int64_t sa = a.stride * NA, sb = b.stride * NB;
        const bool ga = a.is_signed, gb = b.is_signed;
        for (int64_t k = lo; k < hi; ++k) {
            const bool na = magnitude(A + k * sa, NA, ga, ma);
            const bool nb = magnitude(B + k * sb, NB, gb, mb);
            mul_mag_fixed<NA, NB>(ma, mb, p);
            if (na != nb) negate(p, NA + NB);
            uint64_t* o = out + k * Lr;
            for (int t = 0; t < Lr; ++t) o[t] = p[t];  // exact and extended: no normalize needed
        }
    });
}

template <int LR>
bool dispatch_addsub(const WideSource& a, const WideSource& b, int64_t n, bool sub, uint64_t* out, int lr) {
    if (lr != LR) return false;
    addsub_aligned<LR>(a, b, n, sub, out);
    return true;
}

template <int... Ls>
bool addsub_fast(std::integer_sequence<int, Ls...>, const WideSource& a, const WideSource& b, int64_t n, bool sub,
                 int res_w, uint64_t* out) {
    const int lr = limbs_for(res_w);
    return (dispatch_addsub<Ls + 1>(a, b, n, sub, out, lr) || ...);
}

}  // namespace

void wide_cast(const WideSource& src, int64_t n, const Format& dst, uint64_t seed, uint64_t* out) {
    const int Lt = limbs_for(dst.w);
    const int64_t sh = int64_t(src.w - src.i) - int64_t(dst.f());
    const uint64_t key = stoch_key(seed);
    with_modes(dst.q, dst.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        parallel_for(n, grain_for(Lt + src.limbs), [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) {
                const uint64_t* p = src.p + k * src.stride * src.limbs;
                const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(k)) : 0;
                if (src.limbs == 1 && O != OMode::WRAP_SM) {
                    const i128 m1 = src.is_signed ? i128(int64_t(p[0])) : i128(p[0]);
                    if (quantize_small<Q, O>(m1, sh, dst, u, out + k * Lt)) continue;
                }
                const View m(p, src.limbs, src.is_signed);
                quantize_view<Q, O>(m, src.w, sh, dst, u, out + k * Lt);
            }
        });
    });
}

void wide_from_double(const double* x, int64_t n, const Format& dst, uint64_t seed, uint64_t* out) {
    const int Lt = limbs_for(dst.w);
    const uint64_t key = stoch_key(seed);
    with_modes(dst.q, dst.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        parallel_for(n, grain_for(Lt), [&](int64_t b, int64_t e) {
            for (int64_t k = b; k < e; ++k) {
                i128 m;
                int f2;
                if (!decode_double(x[k], m, f2)) {
                    std::memset(out + k * Lt, 0, sizeof(uint64_t) * size_t(Lt));
                    continue;
                }
                const uint64_t limb = uint64_t(int64_t(m));
                const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(k)) : 0;
                const int64_t sh = int64_t(f2) - dst.f();
                if (O != OMode::WRAP_SM && quantize_small<Q, O>(m, sh, dst, u, out + k * Lt)) continue;
                const View v(&limb, 1, true);
                quantize_view<Q, O>(v, kDoubleContainerWidth, sh, dst, u, out + k * Lt);
            }
        });
    });
}

void wide_to_double(const WideSource& src, int64_t n, double* out) {
    const int f = src.w - src.i;
    parallel_for(n, grain_for(src.limbs), [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k)
            out[k] = to_double_one(src.p + k * src.stride * src.limbs, src.limbs, src.is_signed, f);
    });
}

void wide_elementwise(WideOp op, const WideSource& a, const WideSource& b, int64_t n, int res_w, int res_i,
                      bool res_signed, const Format* dst, uint64_t seed, uint64_t* out, int8_t* out8) {
    const int Lr = limbs_for(res_w) + (op == WideOp::cmp ? 1 : 0);
    const int res_f = res_w - res_i;
    const int64_t sa = res_f - (a.w - a.i), sb = res_f - (b.w - b.i);
    const uint64_t key = stoch_key(seed);
    const int Lo = dst ? limbs_for(dst->w) : limbs_for(res_w);
    if (!dst && (op == WideOp::add || op == WideOp::sub) && sa == 0 && sb == 0 && a.limbs == b.limbs) {
        const int la = a.limbs, lr = limbs_for(res_w);
        const bool sub = op == WideOp::sub;
        if (la == 2 && lr == 2 && a.stride == 1 && b.stride == 1 && isa_at_least(Isa::avx2)) {
            const uint64_t* const pa = a.p;
            const uint64_t* const pb = b.p;
            parallel_for(n, 8192, [&](int64_t lo, int64_t hi) {
                wide_addsub2_avx2(pa + 2 * lo, pb + 2 * lo, hi - lo, sub, out + 2 * lo);
            });
            return;
        }
        if (la == 1 && lr == 2) return addsub_unrolled<1, 1, 2>(a, b, n, sub, out);
        if (la == 2 && lr == 2) return addsub_unrolled<2, 2, 2>(a, b, n, sub, out);
        if (la == 2 && lr == 3) return addsub_unrolled<2, 2, 3>(a, b, n, sub, out);
        if (la == 3 && lr == 3) return addsub_unrolled<3, 3, 3>(a, b, n, sub, out);
        if (la == 3 && lr == 4) return addsub_unrolled<3, 3, 4>(a, b, n, sub, out);
        if (la == 4 && lr == 4) return addsub_unrolled<4, 4, 4>(a, b, n, sub, out);
        if (la == 4 && lr == 5) return addsub_unrolled<4, 4, 5>(a, b, n, sub, out);
        if (la == 8 && lr == 8) return addsub_unrolled<8, 8, 8>(a, b, n, sub, out);
        if (la == 8 && lr == 9) return addsub_unrolled<8, 8, 9>(a, b, n, sub, out);
    }
    if (!dst && (op == WideOp::add || op == WideOp::sub) && sa == 0 && sb == 0 &&
        addsub_fast(std::make_integer_sequence<int, kWideMaxLimbs>{}, a, b, n, op == WideOp::sub, res_w, out))
        return;
    if (!dst && op == WideOp::mul) {
        const int la = a.limbs, lb = b.limbs;
        if (la == 1 && lb == 1) return mul_fixed_limbs<1, 1>(a, b, n, res_w, out);
        if (la == 2 && lb == 2) return mul_fixed_limbs<2, 2>(a, b, n, res_w, out);
        if (la == 1 && lb == 2) return mul_fixed_limbs<1, 2>(a, b, n, res_w, out);
        if (la == 2 && lb == 1) return mul_fixed_limbs<2, 1>(a, b, n, res_w, out);
        if (la == 3 && lb == 3) return mul_fixed_limbs<3, 3>(a, b, n, res_w, out);
        if (la == 4 && lb == 4) return mul_fixed_limbs<4, 4>(a, b, n, res_w, out);
        if (la == 8 && lb == 8) return mul_fixed_limbs<8, 8>(a, b, n, res_w, out);
    }
    auto body = [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        parallel_for(n, grain_for(Lr), [&](int64_t lo, int64_t hi) {
            uint64_t r[2 * kWideMaxLimbs + 4];
            uint64_t ma[kWideMaxLimbs + 1], mb[kWideMaxLimbs + 1];
            for (int64_t k = lo; k < hi; ++k) {
                const View va(a.p + k * a.stride * a.limbs, a.limbs, a.is_signed);
                const View vb(b.p + k * b.stride * b.limbs, b.limbs, b.is_signed);
                if (op == WideOp::mul) {
                    const bool na = magnitude(va.p, a.limbs, a.is_signed, ma);
                    const bool nb = magnitude(vb.p, b.limbs, b.is_signed, mb);
                    mul_mag(ma, a.limbs, mb, b.limbs, r);
                    for (int t = a.limbs + b.limbs; t < Lr; ++t) r[t] = 0;
                    if (na != nb) negate(r, std::max(Lr, a.limbs + b.limbs));
                } else {
                    u128 carry = op == WideOp::add ? 0 : 1;
                    for (int t = 0; t < Lr; ++t) {
                        const uint64_t x = va.bits64(64 * int64_t(t) - sa);
                        const uint64_t y = vb.bits64(64 * int64_t(t) - sb);
                        const u128 s = u128(x) + u128(op == WideOp::add ? y : ~y) + carry;
                        r[t] = uint64_t(s);
                        carry = s >> 64;
                    }
                }
                if (op == WideOp::cmp) {
                    const View d(r, Lr, true);
                    out8[k] = d.neg() ? -1 : (d.is_zero() ? 0 : 1);
                    continue;
                }
                if (!dst) {
                    uint64_t* o = out + k * Lo;
                    std::memcpy(o, r, sizeof(uint64_t) * size_t(Lo));
                    normalize(o, res_w, res_signed);
                    continue;
                }
                // r holds the exact natural result modulo 2^(64 Lr); as a res_w-bit value it is exact.
                normalize(r, res_w, res_signed);
                const View v(r, limbs_for(res_w), res_signed);
                const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(k)) : 0;
                quantize_view<Q, O>(v, res_w, int64_t(res_f) - dst->f(), *dst, u, out + k * Lo);
            }
        });
    };
    if (dst)
        with_modes(dst->q, dst->o, body);
    else
        body(std::integral_constant<QMode, QMode::TRN>{}, std::integral_constant<OMode, OMode::WRAP>{});
}

void wide_matmul(const WideSource& a, const WideSource& b, int64_t M, int64_t K, int64_t N, int res_w,
                 bool res_signed, uint64_t* out) {
    const int Lr = limbs_for(res_w);
    const Mags A = mags_of(a, M * K, false, M, K);
    const Mags Bt = mags_of(b, K * N, true, K, N);  // (N, K): row j holds column j of B
    const int LA = a.limbs, LB = b.limbs;
    if (LA == 1 && LB == 1)
        matmul_fixed<1, 1>(A, Bt, M, K, N, Lr, out);
    else if (LA == 2 && LB == 2)
        matmul_fixed<2, 2>(A, Bt, M, K, N, Lr, out);
    else if (LA == 1 && LB == 2)
        matmul_fixed<1, 2>(A, Bt, M, K, N, Lr, out);
    else if (LA == 2 && LB == 1)
        matmul_fixed<2, 1>(A, Bt, M, K, N, Lr, out);
    else if (LA == 3 && LB == 3)
        matmul_fixed<3, 3>(A, Bt, M, K, N, Lr, out);
    else if (LA == 4 && LB == 4)
        matmul_fixed<4, 4>(A, Bt, M, K, N, Lr, out);
    else if (LA == 8 && LB == 8)
        matmul_fixed<8, 8>(A, Bt, M, K, N, Lr, out);
    else
        matmul_general(A, LA, Bt, LB, M, K, N, Lr, out);
    parallel_for(M * N, 1024, [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o) normalize(out + o * Lr, res_w, res_signed);
    });
}

void wide_sum_rows(const WideSource& a, int64_t rows, int64_t K, int res_w, uint64_t* out) {
    const int Lr = limbs_for(res_w);
    parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(K, 1)), [&](int64_t lo, int64_t hi) {
        uint64_t acc[kCap];
        for (int64_t r = lo; r < hi; ++r) {
            for (int t = 0; t < Lr; ++t) acc[t] = 0;
            for (int64_t k = 0; k < K; ++k) {
                const View v(a.p + (r * K + k) * a.limbs, a.limbs, a.is_signed);
                u128 carry = 0;
                for (int t = 0; t < Lr; ++t) {
                    const u128 s = u128(acc[t]) + v.limb(t) + carry;
                    acc[t] = uint64_t(s);
                    carry = s >> 64;
                }
            }
            std::memcpy(out + r * Lr, acc, sizeof(uint64_t) * size_t(Lr));
            normalize(out + r * Lr, res_w, a.is_signed);
        }
    });
}

}  // namespace fixedpoint
