// fixedpoint core: the exact scalar quantizer (Python-free, header-only).
//
// One value, one rounding: the exact source value m * 2^-f2 is rounded to the
// target LSB with mode Q, then the overflow mode O is applied. This is the
// reference path every fast kernel falls back to for the elements it does not
// handle itself; it covers every target width w <= 64 and every source that
// fits in 66 bits (int64/uint64 raws, the 54-bit signed double mantissa).
//
// The ap_fixed.h behaviours reproduced here (see docs/modes.md):
//  * ap_ufixed with WRAP and n > 0 sets the top n bits on any overflow, also
//    for negative (underflowing) values;
//  * SAT_SYM on signed targets maps the exact minimum code to -max, and with
//    w == 1 an underflow gives raw -1;
//  * WRAP_SM with n == 0 takes the new sign bit from the source bit just above
//    the kept field, before rounding (0 when that bit lies outside the source
//    container);
//  * a double is read as the header reads it: a 54-bit signed mantissa with the
//    implicit bit always set (so subnormals read as (1.m)*2^-1023) and NaN/inf
//    as huge finite values (exponent 1024).
#pragma once
#include <cstdint>
#include <cstring>

#include "format.hpp"
#include "isa_ns.hpp"
#include "rng.hpp"

namespace fixedpoint {
inline namespace FP_PER_ISA_NS {  // see isa_ns.hpp

// Everything about the target that the per-element code needs, computed once per call.
struct Target {
    int w;
    int f;
    bool s;
    int n;
    i128 lo, hi;
    explicit Target(const Format& fm)
        : w(fm.w), f(fm.f()), s(fm.is_signed), n(fm.n), lo(raw_min(fm.w, fm.is_signed)),
          hi(raw_max(fm.w, fm.is_signed)) {}
};

namespace detail {

inline int bitlen_u128(u128 v) {
    uint64_t hi = uint64_t(v >> 64), lo = uint64_t(v);
    if (hi) return 128 - __builtin_clzll(hi);
    if (lo) return 64 - __builtin_clzll(lo);
    return 0;
}

inline uint64_t sign_extend(uint64_t v, int w) {
    if (w >= 64) return v;
    const int sh = 64 - w;
    return uint64_t(int64_t(v << sh) >> sh);
}

inline uint64_t low_mask(int w) { return w >= 64 ? ~uint64_t(0) : (uint64_t(1) << w) - 1; }

// Bits [lo_bit, hi_bit] of v set to all ones (ones=true) or zeros.
inline uint64_t set_range(uint64_t v, int lo_bit, int hi_bit, bool ones) {
    if (hi_bit < lo_bit) return v;
    const uint64_t m = low_mask(hi_bit + 1) & ~low_mask(lo_bit);
    return ones ? (v | m) : (v & ~m);
}

// The rounded integer: exact when !huge; when huge (only from left shifts of
// large sources) only its sign and its low 64 bits are known, which is all the
// overflow modes need since a huge value is out of every w <= 64 range.
struct Rounded {
    i128 r;
    bool huge;
    bool neg;
    uint64_t low64;
};

// Stochastic threshold: ceil(frac * 2^64) for frac = rem / 2^sh, 0 < sh < 127.
inline u128 stoch_threshold(u128 rem, int sh) {
    if (sh <= 64) return rem << (64 - sh);
    const int d = sh - 64;
    const u128 mask = (u128(1) << d) - 1;
    return (rem >> d) + ((rem & mask) != 0);
}

template <QMode Q>
inline bool round_up(bool neg, bool rem_nonzero, int cmp_half, bool floor_odd, u128 thresh, uint64_t u) {
    switch (Q) {
        case QMode::TRN: return false;
        case QMode::TRN_ZERO: return neg && rem_nonzero;
        case QMode::RND: return cmp_half >= 0;
        case QMode::RND_ZERO: return cmp_half > 0 || (cmp_half == 0 && neg);
        case QMode::RND_MIN_INF: return cmp_half > 0;
        case QMode::RND_INF: return cmp_half > 0 || (cmp_half == 0 && !neg);
        case QMode::RND_CONV: return cmp_half > 0 || (cmp_half == 0 && floor_odd);
        case QMode::STOCH: return u128(u) < thresh;
    }
    return false;
}

// Round m * 2^-sh (sh = f_src - f_dst) to an integer with mode Q.
template <QMode Q>
inline Rounded round_exact(i128 m, int sh, uint64_t u) {
    Rounded out{0, false, m < 0, 0};
    if (m == 0) return out;
    if (sh <= 0) {
        const int L = -sh;
        const u128 mag = m < 0 ? u128(-m) : u128(m);
        if (L + bitlen_u128(mag) <= 125) {
            out.r = m * (i128(1) << L);
        } else {
            out.huge = true;
            out.low64 = L >= 64 ? 0 : uint64_t(u128(m) << L);
        }
        return out;
    }
    i128 fl;
    bool rem_nonzero;
    int cmp;
    u128 thresh = 0;
    if (sh < 127) {
        fl = m >> sh;  // arithmetic shift: floor
        const u128 rem = u128(m - fl * (i128(1) << sh));
        const u128 half = u128(1) << (sh - 1);
        rem_nonzero = rem != 0;
        cmp = rem < half ? -1 : (rem == half ? 0 : 1);
        if (Q == QMode::STOCH) thresh = stoch_threshold(rem, sh);
    } else {
        // |m| < 2^66 << 2^(sh-1): the value lies strictly inside (-1/2, 1/2).
        fl = m < 0 ? -1 : 0;
        rem_nonzero = true;
        cmp = m < 0 ? 1 : -1;
        if (Q == QMode::STOCH) {
            const int d = sh - 64;  // >= 63
            const u128 mag = m < 0 ? u128(-m) : u128(m);
            const u128 q = d >= 128 ? 0 : (mag >> d);
            const bool rest = d >= 128 ? true : ((mag & ((u128(1) << d) - 1)) != 0);
            // frac*2^64 = m/2^d for m > 0, 2^64 - |m|/2^d for m < 0.
            thresh = m > 0 ? q + rest : (u128(1) << 64) - q;
        }
    }
    const bool up = round_up<Q>(m < 0, rem_nonzero, cmp, (fl & 1) != 0, thresh, u);
    out.r = fl + (up ? 1 : 0);
    out.neg = out.r < 0;
    return out;
}

}  // namespace detail

// Quantize the exact value m * 2^-f2 (m held in a w2-bit source container) into
// target t with modes Q/O. u is the element's random word (STOCH only).
template <QMode Q, OMode O>
inline int64_t quantize_one(i128 m, int w2, int f2, const Target& t, uint64_t u) {
    using namespace detail;
    const int sh = f2 - t.f;
    const Rounded R = round_exact<Q>(m, sh, u);
    if (!R.huge && R.r >= t.lo && R.r <= t.hi) {
        if (O == OMode::SAT_SYM && t.s && R.r == t.lo) return t.w == 1 ? -1 : int64_t(-t.hi);
        return int64_t(R.r);
    }
    const bool neg = R.neg;
    const uint64_t wrapped_bits = (R.huge ? R.low64 : uint64_t(R.r)) & low_mask(t.w);
    auto finish = [&](uint64_t bits) -> int64_t {
        bits &= low_mask(t.w);
        return int64_t(t.s ? sign_extend(bits, t.w) : bits);
    };
    switch (O) {
        case OMode::SAT: return neg ? int64_t(t.lo) : int64_t(t.hi);
        case OMode::SAT_ZERO: return 0;
        case OMode::SAT_SYM:
            if (!t.s) return neg ? 0 : int64_t(t.hi);
            if (!neg) return int64_t(t.hi);
            return t.w == 1 ? -1 : int64_t(-t.hi);
        case OMode::WRAP: {
            uint64_t v = wrapped_bits;
            if (t.n == 0) return finish(v);
            if (t.s) {
                v = set_range(v, t.w - 1, t.w - 1, neg);
                v = set_range(v, t.w - t.n, t.w - 2, !neg);
            } else {
                v = set_range(v, t.w - t.n, t.w - 1, true);
            }
            return finish(v);
        }
        case OMode::WRAP_SM: {
            uint64_t v = wrapped_bits;
            const bool Ro = (v >> (t.w - 1)) & 1;
            if (t.n == 0) {
                const int pos1 = sh + t.w;
                const bool lD = (pos1 >= 0 && pos1 < w2) ? bool((m >> pos1) & 1) : false;
                if (lD != Ro) {
                    v = ~v;
                    v = set_range(v, t.w - 1, t.w - 1, lD);
                }
                return finish(v);
            }
            if (t.n == 1) {
                if (neg != Ro) v = ~v;
            } else {
                const bool lNo = (v >> (t.w - t.n)) & 1;
                if (lNo == neg) v = ~v;
                v = set_range(v, t.w - t.n, t.w - 2, !neg);
            }
            v = set_range(v, t.w - 1, t.w - 1, neg);
            return finish(v);
        }
    }
    return 0;
}

// The header's reading of a double: returns false for +-0 (raw 0); otherwise the
// signed mantissa m (54-bit container) and its fraction bit count f2.
inline bool decode_double(double x, i128& m, int& f2) {
    uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffffffffffULL) == 0) return false;
    const int exp = int((bits >> 52) & 0x7ff) - 1023;  // subnormal: -1023, NaN/inf: 1024
    const int64_t man = int64_t((bits & 0xfffffffffffffULL) | (uint64_t(1) << 52));
    m = (bits >> 63) ? -i128(man) : i128(man);
    f2 = 52 - exp;  // W2 = 54, I2 = exp + 2
    return true;
}

constexpr int kDoubleContainerWidth = 54;

template <QMode Q, OMode O>
inline int64_t quantize_double_one(double x, const Target& t, uint64_t u) {
    i128 m;
    int f2;
    if (!decode_double(x, m, f2)) return 0;
    return quantize_one<Q, O>(m, kDoubleContainerWidth, f2, t, u);
}

// One exact rounding + overflow of m * 2^-(t.f + sh) into t, in int64 arithmetic.
// Preconditions (checked once per call by fits_requant64): |m| < 2^62, sh <= 62, left shifts
// stay below 2^62, t.w <= 62, and O/n are not WRAP_SM or saturation bits (those go to
// quantize_one). Same results as quantize_one; this form is branch-light and much faster.
template <QMode Q, OMode O>
inline int64_t requant64(int64_t m, int sh, const Target& t, uint64_t u) {
    int64_t r;
    if (sh <= 0) {
        r = m * (int64_t(1) << -sh);
    } else {
        const int64_t fl = m >> sh;
        const int64_t rem = m - fl * (int64_t(1) << sh);
        const int64_t half = int64_t(1) << (sh - 1);
        const int cmp = rem < half ? -1 : (rem == half ? 0 : 1);
        u128 thresh = 0;
        if constexpr (Q == QMode::STOCH) thresh = detail::stoch_threshold(u128(rem), sh);
        r = fl + (detail::round_up<Q>(m < 0, rem != 0, cmp, (fl & 1) != 0, thresh, u) ? 1 : 0);
    }
    const int64_t lo = int64_t(t.lo), hi = int64_t(t.hi);
    if (r >= lo && r <= hi) {
        if constexpr (O == OMode::SAT_SYM) {
            if (t.s && r == lo) return t.w == 1 ? -1 : -hi;
        }
        return r;
    }
    const bool neg = r < 0;
    switch (O) {
        case OMode::SAT: return neg ? lo : hi;
        case OMode::SAT_ZERO: return 0;
        case OMode::SAT_SYM:
            if (!t.s) return neg ? 0 : hi;
            if (!neg) return hi;
            return t.w == 1 ? -1 : -hi;
        default: {  // WRAP, n == 0
            const int wsh = 64 - t.w;
            const uint64_t v = uint64_t(r) << wsh;
            return t.s ? (int64_t(v) >> wsh) : int64_t(v >> wsh);
        }
    }
}

// Whether requant64 may replace quantize_one for sources of natural width nw (signed
// container), fraction bits f2, into fm.
inline bool fits_requant64(int nw, int f2, const Format& fm) {
    const int sh = f2 - fm.f();
    if (fm.o == OMode::WRAP_SM || fm.n != 0 || fm.w > 62 || nw > 62 || sh > 62) return false;
    return sh >= 0 || nw - sh <= 62;
}

}  // namespace FP_PER_ISA_NS
}  // namespace fixedpoint
