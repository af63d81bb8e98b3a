// fixedpoint core: kernel bodies, included once per ISA translation unit.
//
// The including file defines FP_ISA_NS (a namespace name) and FP_TABLE_FN (the
// name of the function returning its KernelTable) and is compiled with that
// ISA's flags. Every kernel is a template over (Q, O), dispatched once per call.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.hpp"
#include "quantize_scalar.hpp"
#include "threads.hpp"

namespace fixedpoint {
namespace FP_ISA_NS {

namespace {

template <class F>
void with_modes(QMode q, OMode o, F&& f) {
    auto with_o = [&](auto qc) {
        switch (o) {
            case OMode::WRAP: return f(qc, std::integral_constant<OMode, OMode::WRAP>{});
            case OMode::SAT: return f(qc, std::integral_constant<OMode, OMode::SAT>{});
            case OMode::SAT_ZERO: return f(qc, std::integral_constant<OMode, OMode::SAT_ZERO>{});
            case OMode::SAT_SYM: return f(qc, std::integral_constant<OMode, OMode::SAT_SYM>{});
            case OMode::WRAP_SM: return f(qc, std::integral_constant<OMode, OMode::WRAP_SM>{});
        }
    };
    switch (q) {
        case QMode::TRN: return with_o(std::integral_constant<QMode, QMode::TRN>{});
        case QMode::TRN_ZERO: return with_o(std::integral_constant<QMode, QMode::TRN_ZERO>{});
        case QMode::RND: return with_o(std::integral_constant<QMode, QMode::RND>{});
        case QMode::RND_ZERO: return with_o(std::integral_constant<QMode, QMode::RND_ZERO>{});
        case QMode::RND_MIN_INF: return with_o(std::integral_constant<QMode, QMode::RND_MIN_INF>{});
        case QMode::RND_INF: return with_o(std::integral_constant<QMode, QMode::RND_INF>{});
        case QMode::RND_CONV: return with_o(std::integral_constant<QMode, QMode::RND_CONV>{});
        case QMode::STOCH: return with_o(std::integral_constant<QMode, QMode::STOCH>{});
    }
}

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk, at least
constexpr int64_t kBlock = 512;      // elements per fast pass before fix-ups

// ---------------------------------------------------------------------------
// floats -> fixed
//
// Fast pass (vectorizable): y = x * 2^F is exact when x is normal and y is
// normal; below 2^62 in magnitude, floor, the discarded fraction and every
// rounding decision are exact in double arithmetic. Overflow is resolved in
// the fast pass for SAT, SAT_ZERO, SAT_SYM (w > 1) and plain WRAP. Every other
// element (NaN, inf, huge, tiny or subnormal inputs, saturation-bit and WRAP_SM
// overflows) is redone by the exact scalar path.
struct FastParams {
    bool enabled;
    double scale;  // 2^F
    int64_t lo, hi;  // target range, clamped into int64
};

FastParams fast_params(const Format& fm) {
    FastParams p{};
    const int F = fm.f();
    p.enabled = F >= -1000 && F <= 1000;
    p.scale = p.enabled ? std::ldexp(1.0, F) : 1.0;
    const i128 lo = raw_min(fm.w, fm.is_signed), hi = raw_max(fm.w, fm.is_signed);
    p.lo = int64_t(lo);
    p.hi = hi > i128(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max() : int64_t(hi);
    return p;
}

template <QMode Q, OMode O>
constexpr bool fast_overflow(bool sym_w1) {
    return O == OMode::SAT || O == OMode::SAT_ZERO || (O == OMode::SAT_SYM && !sym_w1);
}

template <QMode Q, OMode O, class T>
void quantize_float_range(const T* x, int64_t begin, int64_t end, const Format& fm, const FastParams& p,
                          uint64_t key, bool nan_ap, int64_t* out, int64_t& first_nan) {
    const Target t(fm);
    const bool sym_w1 = fm.w == 1;
    const bool wrap_plain = O == OMode::WRAP && fm.n == 0;
    const bool resolves_overflow = fast_overflow<Q, O>(sym_w1) || wrap_plain;
    const int wsh = 64 - fm.w;
    const bool sgn = fm.is_signed;
    const int64_t lo = (O == OMode::SAT_SYM && sgn) ? -p.hi : p.lo;
    const int64_t hi = p.hi;
    const double scale = p.scale;
    for (int64_t b0 = begin; b0 < end; b0 += kBlock) {
        const int64_t b1 = b0 + kBlock < end ? b0 + kBlock : end;
        bool any_slow = !p.enabled;
        if (p.enabled) {
            for (int64_t j = b0; j < b1; ++j) {
                const double xd = double(x[j]);
                const double y = xd * scale;
                const double ax = std::fabs(xd), ay = std::fabs(y);
                const bool ok = (ax >= 0x1p-1022 && ay >= 0x1p-1000 && ay < 0x1p62) || xd == 0.0;
                const double yc = ok ? y : 0.0;
                const int64_t tr = int64_t(yc);
                const int64_t fl = tr - (double(tr) > yc ? 1 : 0);
                const double frac = yc - double(fl);
                const bool neg = yc < 0.0;
                bool up;
                if constexpr (Q == QMode::TRN) {
                    up = false;
                } else if constexpr (Q == QMode::TRN_ZERO) {
                    up = neg && frac != 0.0;
                } else if constexpr (Q == QMode::RND) {
                    up = frac >= 0.5;
                } else if constexpr (Q == QMode::RND_ZERO) {
                    up = frac > 0.5 || (frac == 0.5 && neg);
                } else if constexpr (Q == QMode::RND_MIN_INF) {
                    up = frac > 0.5;
                } else if constexpr (Q == QMode::RND_INF) {
                    up = frac > 0.5 || (frac == 0.5 && !neg);
                } else if constexpr (Q == QMode::RND_CONV) {
                    up = frac > 0.5 || (frac == 0.5 && (fl & 1));
                } else {  // STOCH: up iff u < ceil(frac * 2^64)
                    const double tf = frac * 0x1p64;
                    const uint64_t ti = uint64_t(tf);
                    const uint64_t ceil_t = ti + (double(ti) != tf ? 1 : 0);
                    up = stoch_bits(key, uint64_t(j)) < ceil_t;
                }
                int64_t r = fl + (up ? 1 : 0);
                if constexpr (O == OMode::SAT) {
                    r = r < lo ? lo : (r > hi ? hi : r);
                } else if constexpr (O == OMode::SAT_ZERO) {
                    r = (r < lo || r > hi) ? 0 : r;
                } else if constexpr (O == OMode::SAT_SYM) {
                    if (!sym_w1) r = r < lo ? lo : (r > hi ? hi : r);
                } else if constexpr (O == OMode::WRAP) {
                    if (wrap_plain) {
                        if (wsh > 0) r = sgn ? (int64_t(uint64_t(r) << wsh) >> wsh) : int64_t((uint64_t(r) << wsh) >> wsh);
                    }
                }
                out[j] = r;
                any_slow |= !ok;
                if (!resolves_overflow) any_slow |= (r < lo) | (r > hi);
            }
        }
        if (!any_slow) continue;
        for (int64_t j = b0; j < b1; ++j) {
            const double xd = double(x[j]);
            if (p.enabled) {
                const double ax = std::fabs(xd), ay = std::fabs(xd * scale);
                const bool ok = (ax >= 0x1p-1022 && ay >= 0x1p-1000 && ay < 0x1p62) || xd == 0.0;
                if (ok && (resolves_overflow || (out[j] >= lo && out[j] <= hi))) continue;
            }
            if (std::isnan(xd) && !nan_ap) {
                if (first_nan < 0) first_nan = j;
                out[j] = 0;
                continue;
            }
            const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
            out[j] = quantize_double_one<Q, O>(xd, t, u);
        }
    }
}

template <class T>
int64_t quantize_float_typed(const T* x, int64_t n, const Format& fm, uint64_t seed, bool nan_ap, int64_t* out) {
    const FastParams p = fast_params(fm);
    const uint64_t key = stoch_key(seed);
    std::atomic<int64_t> first{-1};
    with_modes(fm.q, fm.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
            int64_t local = -1;
            quantize_float_range<Q, O, T>(x, b, e, fm, p, key, nan_ap, out, local);
            if (local >= 0) {
                int64_t cur = first.load();
                while ((cur < 0 || local < cur) && !first.compare_exchange_weak(cur, local)) {
                }
            }
        });
    });
    return first.load();
}

int64_t quantize_float(const void* x, DType dt, int64_t n, const Format& fm, uint64_t seed, bool nan_ap,
                       int64_t* out) {
    if (dt == DType::f32) return quantize_float_typed(static_cast<const float*>(x), n, fm, seed, nan_ap, out);
    return quantize_float_typed(static_cast<const double*>(x), n, fm, seed, nan_ap, out);
}

// ---------------------------------------------------------------------------
// exact integers / fixed raws -> fixed, through the exact scalar path.
template <class T>
void quantize_int_typed(const T* x, int64_t n, const Format& fm, uint64_t seed, int64_t* out, int w2) {
    const Target t(fm);
    const uint64_t key = stoch_key(seed);
    with_modes(fm.q, fm.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
            for (int64_t j = b; j < e; ++j) {
                const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
                out[j] = quantize_one<Q, O>(i128(x[j]), w2, 0, t, u);
            }
        });
    });
}

void quantize_int(const void* x, DType dt, int64_t n, const Format& fm, uint64_t seed, int64_t* out) {
    switch (dt) {
        case DType::i8: return quantize_int_typed(static_cast<const int8_t*>(x), n, fm, seed, out, 8);
        case DType::i16: return quantize_int_typed(static_cast<const int16_t*>(x), n, fm, seed, out, 16);
        case DType::i32: return quantize_int_typed(static_cast<const int32_t*>(x), n, fm, seed, out, 32);
        case DType::i64: return quantize_int_typed(static_cast<const int64_t*>(x), n, fm, seed, out, 64);
        case DType::u8: return quantize_int_typed(static_cast<const uint8_t*>(x), n, fm, seed, out, 8);
        case DType::u16: return quantize_int_typed(static_cast<const uint16_t*>(x), n, fm, seed, out, 16);
        case DType::u32: return quantize_int_typed(static_cast<const uint32_t*>(x), n, fm, seed, out, 32);
        case DType::u64: return quantize_int_typed(static_cast<const uint64_t*>(x), n, fm, seed, out, 64);
        case DType::b1: return quantize_int_typed(static_cast<const uint8_t*>(x), n, fm, seed, out, 1);
        default: throw std::invalid_argument("quantize_int: not an integer dtype");
    }
}

void cast_raw(const int64_t* src, int64_t n, const SourceFormat& sf, const Format& fm, uint64_t seed, int64_t* out) {
    const Target t(fm);
    const uint64_t key = stoch_key(seed);
    const int f2 = sf.w - sf.i;
    const bool s2 = sf.is_signed;
    with_modes(fm.q, fm.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
            for (int64_t j = b; j < e; ++j) {
                const i128 m = s2 ? i128(src[j]) : i128(uint64_t(src[j]));
                const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
                out[j] = quantize_one<Q, O>(m, sf.w, f2, t, u);
            }
        });
    });
}

// ---------------------------------------------------------------------------
// fixed -> float64
double to_double_exact(i128 m, int f) {
    // m * 2^-f rounded to nearest-even, including subnormal and overflow results.
    if (m == 0) return 0.0;
    const bool neg = m < 0;
    u128 mag = neg ? u128(-m) : u128(m);
    const int bl = detail::bitlen_u128(mag);
    const int top = bl - 1 - f;  // value in [2^top, 2^(top+1))
    int keep = 53;
    if (top < -1022) keep = 53 - (-1022 - top);
    int drop = bl - keep;
    int e = -f;
    if (drop > 0) {
        if (drop > 127) {
            mag = 0;  // below half the smallest subnormal
        } else {
            const u128 rem = mag & ((u128(1) << drop) - 1);
            const u128 half = u128(1) << (drop - 1);
            mag >>= drop;
            if (rem > half || (rem == half && (mag & 1))) mag += 1;
        }
        e += drop;
    }
    const double v = std::ldexp(double(uint64_t(mag)), e);  // exact (or +-inf beyond range)
    return neg ? -v : v;
}

void to_double(const int64_t* raw, int64_t n, const SourceFormat& sf, double* out) {
    const int f = sf.w - sf.i;
    const bool s = sf.is_signed;
    // int64 -> double conversion rounds once (to nearest even); scaling by a
    // power of two is then exact while the result stays normal.
    const bool fast = f >= -900 && f <= 960;
    const double scale = fast ? std::ldexp(1.0, -f) : 1.0;
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
        if (fast && s) {
            for (int64_t j = b; j < e; ++j) out[j] = double(raw[j]) * scale;
        } else if (fast) {
            for (int64_t j = b; j < e; ++j) out[j] = double(uint64_t(raw[j])) * scale;
        } else {
            for (int64_t j = b; j < e; ++j) {
                const i128 m = s ? i128(raw[j]) : i128(uint64_t(raw[j]));
                out[j] = to_double_exact(m, f);
            }
        }
    });
}

}  // namespace

}  // namespace FP_ISA_NS

const KernelTable& FP_TABLE_FN() {
    static const KernelTable table{&FP_ISA_NS::quantize_float, &FP_ISA_NS::quantize_int, &FP_ISA_NS::cast_raw,
                                   &FP_ISA_NS::to_double};
    return table;
}

}  // namespace fixedpoint
