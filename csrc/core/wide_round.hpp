// fixedpoint core: the exact rounding of multi-limb values (wide.hpp's storage) into a
// format, shared by the wide kernels (wide.cpp) and the wide accumulator (accum_wide.cpp).
// Internal to the core (Python-free); every definition is inline or a template.
//
// Values are read through View, an infinite two's-complement reading of a limb buffer
// (limbs beyond the buffer repeat the sign for signed sources, 0 for unsigned), so that
// shifts, rounding information and range checks are uniform for every width and shift.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "format.hpp"
#include "modes.hpp"
#include "quantize_scalar.hpp"
#include "wide.hpp"

namespace fixedpoint {
namespace wide_detail {

// Scratch limbs: 2048-bit natural products plus left shifts of up to ~2.5k bits.
constexpr int kCap = 96;

struct View {
    const uint64_t* p;
    int n;
    uint64_t ext;
    View(const uint64_t* p_, int n_, bool s)
        : p(p_), n(n_), ext((s && n_ > 0 && int64_t(p_[n_ - 1]) < 0) ? ~uint64_t(0) : 0) {}
    uint64_t limb(int64_t k) const { return k < 0 ? 0 : (k < n ? p[k] : ext); }
    // Bits [pos, pos + 64) (pos may be negative: bits below 0 read as 0).
    uint64_t bits64(int64_t pos) const {
        const int64_t q = pos >> 6;  // floor division
        const int r = int(pos & 63);
        if (r == 0) return limb(q);
        return (limb(q) >> r) | (limb(q + 1) << (64 - r));
    }
    bool bit(int64_t pos) const { return pos >= 0 && ((limb(pos >> 6) >> (pos & 63)) & 1); }
    bool neg() const { return ext != 0; }
    // Any set bit in [0, pos).
    bool any_below(int64_t pos) const {
        if (pos <= 0) return false;
        const int64_t full = pos >> 6;
        const int r = int(pos & 63);
        const int64_t lim = std::min<int64_t>(full, n);
        for (int64_t k = 0; k < lim; ++k)
            if (p[k]) return true;
        if (full > n && ext) return true;
        if (r && (limb(full) & ((uint64_t(1) << r) - 1))) return true;
        return false;
    }
    // Every bit in [pos, infinity) equals `one`.
    bool all_from(int64_t pos, bool one) const {
        const uint64_t want = one ? ~uint64_t(0) : 0;
        if (ext != want) return false;
        if (pos < 0) pos = 0;
        const int64_t q = pos >> 6;
        const int r = int(pos & 63);
        if (q >= n) return true;
        if ((p[q] >> r) != (want >> r)) return false;
        for (int64_t k = q + 1; k < n; ++k)
            if (p[k] != want) return false;
        return true;
    }
    bool is_zero() const {
        if (ext) return false;
        for (int k = 0; k < n; ++k)
            if (p[k]) return false;
        return true;
    }
};

inline uint64_t low_mask64(int b) { return b >= 64 ? ~uint64_t(0) : (uint64_t(1) << b) - 1; }

// Bits [lo, hi] of o set to ones or zeros.
inline void set_bits(uint64_t* o, int lo, int hi, bool ones) {
    for (int b = lo; b <= hi;) {
        const int k = b >> 6, r = b & 63;
        const int cnt = std::min(64 - r, hi - b + 1);
        const uint64_t m = low_mask64(cnt) << r;
        o[k] = ones ? (o[k] | m) : (o[k] & ~m);
        b += cnt;
    }
}

// Keep the low w bits of o (limbs_for(w) limbs) and extend them as the format stores them.
inline void normalize(uint64_t* o, int w, bool s) {
    const int top = (w - 1) >> 6;
    const int r = w - 64 * top;
    const uint64_t m = low_mask64(r);
    const bool sign = s && ((o[top] >> (r - 1)) & 1);
    o[top] = sign ? (o[top] | ~m) : (o[top] & m);
}

inline bool bit_of(const uint64_t* o, int b) { return (o[b >> 6] >> (b & 63)) & 1; }

inline void add_one(uint64_t* r, int n) {
    for (int k = 0; k < n; ++k)
        if (++r[k] != 0) break;
}

// Round m * 2^-sh (a value in a w2-bit source container) into t with modes Q/O; u is the
// element's random word (STOCH). Mirrors quantize_one in quantize_scalar.hpp.
template <QMode Q, OMode O>
void quantize_view(const View& m, int w2, int64_t sh, const Format& t, uint64_t u, uint64_t* out) {
    const int w = t.w, Lt = limbs_for(w);
    const bool s = t.is_signed;
    uint64_t rbuf[kCap];
    int rn = 0;
    bool huge = false;
    if (sh > 0) {
        const int64_t kept = 64 * int64_t(m.n) - sh;
        rn = int(std::max<int64_t>((kept + 63) / 64, 0) + 1);
        for (int k = 0; k < rn; ++k) rbuf[k] = m.bits64(sh + 64 * int64_t(k));
        if constexpr (Q != QMode::TRN) {
            if (m.any_below(sh)) {
                const bool half = m.bit(sh - 1);
                const int cmp = half ? (m.any_below(sh - 1) ? 1 : 0) : -1;
                u128 thresh = 0;
                if constexpr (Q == QMode::STOCH)
                    thresh = sh <= 64 ? u128(m.bits64(sh - 64))
                                      : u128(m.bits64(sh - 64)) + (m.any_below(sh - 64) ? 1 : 0);
                if (detail::round_up<Q>(m.neg(), true, cmp, (rbuf[0] & 1) != 0, thresh, u)) add_one(rbuf, rn);
            }
        }
    } else {
        const int64_t L = -sh;
        if (m.is_zero()) {
            std::memset(out, 0, sizeof(uint64_t) * size_t(Lt));
            return;
        }
        if (L > 64 * int64_t(kCap - m.n - 2)) {
            huge = true;  // |r| >= 2^L > 2^1024: out of every range; its low w bits are 0
        } else {
            rn = int(m.n + (L + 63) / 64 + 1);
            for (int k = 0; k < rn; ++k) rbuf[k] = m.bits64(64 * int64_t(k) - L);
        }
    }
    const View r(rbuf, rn, true);
    const bool neg = huge ? m.neg() : r.neg();
    if (!huge) {
        const bool in_range = s ? r.all_from(w - 1, neg) : (!neg && r.all_from(w, false));
        if (in_range) {
            for (int k = 0; k < Lt; ++k) out[k] = r.limb(k);
            if (O == OMode::SAT_SYM && s && neg && !r.any_below(w - 1)) out[0] |= 1;  // min -> -max
            normalize(out, w, s);
            return;
        }
    }
    auto fill = [&](uint64_t v) {
        for (int k = 0; k < Lt; ++k) out[k] = v;
    };
    auto write_hi = [&]() {
        fill(~uint64_t(0));
        if (s) set_bits(out, w - 1, w - 1, false);
        normalize(out, w, s);
    };
    auto write_lo = [&]() {  // signed min (unsigned: 0)
        fill(0);
        if (s) set_bits(out, w - 1, w - 1, true);
        normalize(out, w, s);
    };
    switch (O) {
        case OMode::SAT:
            neg ? write_lo() : write_hi();
            return;
        case OMode::SAT_ZERO:
            fill(0);
            return;
        case OMode::SAT_SYM:
            if (!s) {
                neg ? fill(0) : write_hi();
            } else if (!neg) {
                write_hi();
            } else {
                write_lo();
                out[0] |= 1;  // -max (w == 1: -1)
            }
            return;
        case OMode::WRAP: {
            for (int k = 0; k < Lt; ++k) out[k] = huge ? 0 : r.limb(k);
            if (t.n > 0) {
                if (s) {
                    set_bits(out, w - 1, w - 1, neg);
                    set_bits(out, w - t.n, w - 2, !neg);
                } else {
                    set_bits(out, w - t.n, w - 1, true);
                }
            }
            normalize(out, w, s);
            return;
        }
        case OMode::WRAP_SM: {
            for (int k = 0; k < Lt; ++k) out[k] = huge ? 0 : r.limb(k);
            const bool Ro = bit_of(out, w - 1);
            auto invert = [&]() {
                for (int k = 0; k < Lt; ++k) out[k] = ~out[k];
            };
            if (t.n == 0) {
                const int64_t pos1 = sh + w;
                const bool lD = (pos1 >= 0 && pos1 < w2) ? m.bit(pos1) : false;
                if (lD != Ro) {
                    invert();
                    set_bits(out, w - 1, w - 1, lD);
                }
            } else {
                if (t.n == 1) {
                    if (neg != Ro) invert();
                } else {
                    const bool lNo = bit_of(out, w - t.n);
                    if (lNo == neg) invert();
                    set_bits(out, w - t.n, w - 2, !neg);
                }
                set_bits(out, w - 1, w - 1, neg);
            }
            normalize(out, w, s);
            return;
        }
    }
}

// Two's complement negation of n limbs in place.
inline void negate(uint64_t* v, int n) {
    for (int k = 0; k < n; ++k) v[k] = ~v[k];
    add_one(v, n);
}

// |x| of a stored element into mag (n limbs, unsigned); returns whether x < 0.
inline bool magnitude(const uint64_t* x, int n, bool s, uint64_t* mag) {
    std::memcpy(mag, x, sizeof(uint64_t) * size_t(n));
    if (s && int64_t(x[n - 1]) < 0) {
        negate(mag, n);
        return true;
    }
    return false;
}

// p (na + nb limbs) = a * b, unsigned.
inline void mul_mag(const uint64_t* a, int na, const uint64_t* b, int nb, uint64_t* p) {
    for (int k = 0; k < na + nb; ++k) p[k] = 0;
    for (int i = 0; i < na; ++i) {
        uint64_t carry = 0;
        for (int j = 0; j < nb; ++j) {
            const u128 t = u128(a[i]) * b[j] + p[i + j] + carry;
            p[i + j] = uint64_t(t);
            carry = uint64_t(t >> 64);
        }
        p[i + nb] = carry;
    }
}

// The same with compile-time sizes (inlined, so the loops unroll).
template <int NA, int NB>
inline void mul_mag_fixed(const uint64_t* a, const uint64_t* b, uint64_t* p) {
    mul_mag(a, NA, b, NB, p);
}

// Fast path for sources held in an i128 (doubles, native raws, products of native raws up to
// 126 bits): the exact scalar rounding in 128-bit arithmetic, then the range check. Returns
// false when the general path must decide (huge or out-of-range results, SAT_SYM's minimum code).
template <QMode Q, OMode O>
inline bool quantize_small(i128 m, int64_t sh, const Format& t, uint64_t u, uint64_t* out) {
    // Most common: |m| < 2^62 and a result that fits int64, into a target of >= 64 bits.
    if (t.w >= 64 && sh >= 0 && sh <= 62 && m > -(i128(1) << 62) && m < (i128(1) << 62)) {
        const int64_t mm = int64_t(m);
        int64_t r = mm;
        if constexpr (Q != QMode::STOCH) {
            // Branch-free round-to-integer of mm / 2^sh (|mm| < 2^62, sh <= 62: no overflow).
            if (sh > 0) {
                const int64_t half = int64_t(1) << (sh - 1);
                const int64_t neg = mm < 0 ? 1 : 0;
                int64_t bias = 0;
                switch (Q) {
                    case QMode::TRN: bias = 0; break;
                    case QMode::TRN_ZERO: bias = neg ? (int64_t(1) << sh) - 1 : 0; break;
                    case QMode::RND: bias = half; break;
                    case QMode::RND_ZERO: bias = half - 1 + neg; break;
                    case QMode::RND_MIN_INF: bias = half - 1; break;
                    case QMode::RND_INF: bias = half - neg; break;
                    case QMode::RND_CONV: bias = half - 1 + ((mm >> sh) & 1); break;
                    default: break;
                }
                r = (mm + bias) >> sh;
            }
        } else if (sh > 0) {
            const int64_t fl = mm >> sh;
            const int64_t rem = mm - int64_t(uint64_t(fl) << sh);
            if (rem != 0) {
                const int64_t half = int64_t(1) << (sh - 1);
                const int cmp = rem < half ? -1 : (rem == half ? 0 : 1);
                u128 thresh = 0;
                if constexpr (Q == QMode::STOCH) thresh = detail::stoch_threshold(u128(rem), int(sh));
                r = fl + (detail::round_up<Q>(mm < 0, true, cmp, (fl & 1) != 0, thresh, u) ? 1 : 0);
            } else {
                r = fl;
            }
        }
        if (!t.is_signed && r < 0) return false;
        if (t.w == 64 && t.is_signed && O == OMode::SAT_SYM && r == INT64_MIN) return false;
        const int Lt = limbs_for(t.w);
        out[0] = uint64_t(r);
        const uint64_t ext = uint64_t(r >> 63);
        for (int k = 1; k < Lt; ++k) out[k] = ext;
        return true;
    }
    if (sh < -60 || sh > 1000) return false;
    const detail::Rounded R = detail::round_exact<Q>(m, int(sh), u);
    if (R.huge) return false;
    const i128 r = R.r;
    if (t.w <= 126) {
        if (r < raw_min(t.w, t.is_signed) || r > raw_max(t.w, t.is_signed)) return false;
        if (O == OMode::SAT_SYM && t.is_signed && r == raw_min(t.w, true)) return false;
    } else if (!t.is_signed && r < 0) {
        return false;
    }
    const int Lt = limbs_for(t.w);
    out[0] = uint64_t(r);
    if (Lt > 1) out[1] = uint64_t(u128(r) >> 64);
    const uint64_t ext = r < 0 ? ~uint64_t(0) : 0;
    for (int k = 2; k < Lt; ++k) out[k] = ext;
    return true;
}

}  // namespace wide_detail
}  // namespace fixedpoint
