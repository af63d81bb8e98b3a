// fixedpoint core: kernel bodies, included once per ISA translation unit.
//
// The including file defines FP_ISA_NS (a namespace name) and FP_TABLE_FN (the
// name of the function returning its KernelTable) and is compiled with that
// ISA's flags. Every kernel is a template over (Q, O), dispatched once per call.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <limits>
#include <type_traits>
#include <utility>

#include "kernels.hpp"
#include "modes.hpp"
#include "quantize_scalar.hpp"
#include "simd.hpp"
#include "threads.hpp"

namespace fixedpoint {
namespace FP_ISA_NS {

namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread chunk, at least
constexpr int64_t kBlock = 512;      // elements per fast pass before fix-ups

// ---------------------------------------------------------------------------
// floats -> fixed
//
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

// The deterministic modes' fast pass in double arithmetic only, so that it vectorizes on
// AVX2 too (AVX2 has no packed double <-> int64 conversion). For |y| < 2^51: floor, the tie
// test y == floor(y) + 1/2 and the parity of floor(y) are exact in double, the rounded
// integer r is exact, and r converts to int64 exactly through the 1.5 * 2^52 magic constant.
template <QMode Q>
inline double fast_round_double(double y) {
    const double fl = std::floor(y);
    const double mid = fl + 0.5;
    const bool neg = fl < 0.0, gt = y > mid, eq = y == mid;
    bool up;
    if constexpr (Q == QMode::TRN) {
        up = false;
    } else if constexpr (Q == QMode::TRN_ZERO) {
        up = neg & (y != fl);
    } else if constexpr (Q == QMode::RND) {
        up = gt | eq;
    } else if constexpr (Q == QMode::RND_ZERO) {
        up = gt | (eq & neg);
    } else if constexpr (Q == QMode::RND_MIN_INF) {
        up = gt;
    } else if constexpr (Q == QMode::RND_INF) {
        up = gt | (eq & !neg);
    } else {  // RND_CONV: ties go to the even neighbour
        const bool odd = std::floor(fl * 0.5) * 2.0 != fl;
        up = gt | (eq & odd);
    }
    return fl + (up ? 1.0 : 0.0);
}

// v (a uint64 as two exact 32-bit halves vh, vl) < t, for a double 0 <= t < 2^64; exact.
inline bool u64_less(double vh, double vl, double t) {
    const double th = std::floor(t * 0x1p-32);
    const double tl = t - th * 0x1p32;  // exact (Sterbenz, or th == 0)
    return (vh < th) | ((vh == th) & (vl < tl));
}

inline double u32_to_double(uint64_t v32) {  // exact for v32 < 2^32, vectorizes on AVX2
    const uint64_t bits = 0x4330000000000000ULL | v32;  // 2^52 + v32
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d - 0x1p52;
}

// STOCH in double arithmetic: up iff u < ceil(frac * 2^64), i.e. iff u < frac * 2^64 (u is an
// integer). frac = y - floor(y) is exact except for y in (-1, 0); there frac = 1 - z with
// z = -y, and u < 2^64 - floor(z 2^64) iff ~u >= floor(z 2^64).
// Selects are written as bit masks: GCC does not vectorize this loop with ternaries.
inline double select_mask(uint64_t mask, double a, double b) {  // mask all-ones ? a : b
    uint64_t ab, bb;
    std::memcpy(&ab, &a, sizeof ab);
    std::memcpy(&bb, &b, sizeof bb);
    const uint64_t r = (ab & mask) | (bb & ~mask);
    double d;
    std::memcpy(&d, &r, sizeof d);
    return d;
}

inline double fast_round_stoch_double(double y, uint64_t u) {
    const double fl = std::floor(y);
    const uint64_t sn = uint64_t((y > -1.0) & (y < 0.0));
    const uint64_t snm = uint64_t(0) - sn;
    const uint64_t v = u ^ snm;
    const double vh = u32_to_double(v >> 32), vl = u32_to_double(v & 0xffffffffULL);
    const double t = select_mask(snm, std::floor(-y * 0x1p64), (y - fl) * 0x1p64);
    const uint64_t up = uint64_t(u64_less(vh, vl, t)) ^ sn;
    return fl + select_mask(uint64_t(0) - up, 1.0, 0.0);
}

constexpr double kMagic52 = 6755399441055744.0;  // 1.5 * 2^52

inline int64_t double_to_int64_small(double r) {  // exact for integral |r| < 2^51
    const double m = r + kMagic52;
    int64_t bits, magic;
    std::memcpy(&bits, &m, sizeof bits);
    std::memcpy(&magic, &kMagic52, sizeof magic);
    return bits - magic;
}

// The per-element rounding of the fast pass, in double arithmetic (see the functions above).
template <QMode Q>
inline double round_d(double y, uint64_t u) {
    if constexpr (Q == QMode::STOCH) return fast_round_stoch_double(y, u);
    else return fast_round_double<Q>(y);
}

template <QMode Q, OMode O, class T>
void quantize_float_range_d(const T* x, int64_t begin, int64_t end, const Format& fm, const FastParams& p,
                            uint64_t key, bool nan_ap, int64_t* out, int64_t& first_nan) {
    const Target t(fm);
    const bool sgn = fm.is_signed;
    const bool sym = O == OMode::SAT_SYM && sgn;
    const bool resolves = O == OMode::SAT || O == OMode::SAT_ZERO || (O == OMode::SAT_SYM && fm.w > 1) ||
                          (O == OMode::WRAP && fm.n == 0);
    // Range bounds as doubles: exact for w <= 52; for wider formats every fast-pass value
    // (|r| < 2^51) is inside the range, which the rounded bounds still show.
    const double hi = double(p.hi);
    const double lo = sym ? -hi : double(p.lo);
    const double inf = std::numeric_limits<double>::infinity();
    const double check_lo = resolves ? -inf : lo;
    const double check_hi = resolves ? inf : hi;
    const uint64_t wmask = fm.w >= 64 ? ~uint64_t(0) : (uint64_t(1) << fm.w) - 1;
    const uint64_t wsign = sgn ? (uint64_t(1) << (fm.w - 1)) : 0;
    const double scale = p.scale;
    for (int64_t b0 = begin; b0 < end; b0 += kBlock) {
        const int64_t b1 = b0 + kBlock < end ? b0 + kBlock : end;
        int64_t any_slow = !p.enabled;
        uint64_t ubuf[kBlock];  // STOCH words, drawn in their own loop
        if constexpr (Q == QMode::STOCH)
            for (int64_t j = b0; j < b1; ++j) ubuf[j - b0] = stoch_bits(key, uint64_t(j));
        if (p.enabled) {
            for (int64_t j = b0; j < b1; ++j) {
                const double xd = double(x[j]);
                const double y = xd * scale;
                const double ax = std::fabs(xd), ay = std::fabs(y);
                const bool ok = ((ax >= 0x1p-1022) & (ay >= 0x1p-1000) & (ay < 0x1p51)) | (xd == 0.0);
                const double yc = select_mask(uint64_t(0) - uint64_t(ok), y, 0.0);
                double r = round_d<Q>(yc, Q == QMode::STOCH ? ubuf[j - b0] : 0);
                any_slow |= int64_t(!ok | (r < check_lo) | (r > check_hi));
                if constexpr (O == OMode::SAT || O == OMode::SAT_SYM) {
                    r = r < lo ? lo : (r > hi ? hi : r);
                } else if constexpr (O == OMode::SAT_ZERO) {
                    r = (r < lo) | (r > hi) ? 0.0 : r;
                }
                int64_t v = double_to_int64_small(r);
                if constexpr (O != OMode::SAT && O != OMode::SAT_SYM && O != OMode::SAT_ZERO) {
                    const uint64_t bits = uint64_t(v) & wmask;  // wrap to w bits, then sign-extend
                    v = int64_t((bits ^ wsign) - wsign);
                }
                out[j] = v;
            }
        }
        if (!any_slow) continue;
        for (int64_t j = b0; j < b1; ++j) {
            const double xd = double(x[j]);
            if (p.enabled) {
                const double ax = std::fabs(xd), ay = std::fabs(xd * scale);
                const bool ok = ((ax >= 0x1p-1022) & (ay >= 0x1p-1000) & (ay < 0x1p51)) | (xd == 0.0);
                if (ok) {
                    const double r = round_d<Q>(xd * scale, Q == QMode::STOCH ? ubuf[j - b0] : 0);
                    if (r >= check_lo && r <= check_hi) continue;
                }
            }
            if (std::isnan(xd) && !nan_ap) {
                if (first_nan < 0) first_nan = j;
                out[j] = 0;
                continue;
            }
            out[j] = quantize_double_one<Q, O>(xd, t, Q == QMode::STOCH ? ubuf[j - b0] : 0);
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
            quantize_float_range_d<Q, O, T>(x, b, e, fm, p, key, nan_ap, out, local);
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

// The raw range of a source format, checked inside the kernels' own pass over the raws (no
// second pass over memory): v is in range exactly when v + 2^(w-1) (signed; + 0 unsigned), as
// uint64, has no bit at or above w; a 64-bit format spans every int64. The kernels OR these
// bits over a block while converting it (a separate check pass, even per L1 block, costs more),
// never letting a bad raw reach undefined behaviour; a block with one ends the call with its first
// offender's index.
struct RawRange {
    uint64_t off;
    int wm1, sh;
    bool s;
    explicit RawRange(const SourceFormat& sf)
        : off(sf.is_signed ? uint64_t(1) << (sf.w - 1) : 0), wm1(sf.w - 1), sh(64 - sf.w), s(sf.is_signed) {}
    uint64_t outside(int64_t v) const { return ((uint64_t(v) + off) >> wm1) >> 1; }
    int64_t wrap(int64_t v) const {
        return s ? int64_t(uint64_t(v) << sh) >> sh : int64_t((uint64_t(v) << sh) >> sh);
    }
    int64_t first_outside(const int64_t* v, int64_t b, int64_t e) const {
        for (int64_t j = b; j < e; ++j)
            if (outside(v[j])) return j;
        return -1;
    }
};

constexpr int64_t kCheckBlock = 2048;  // elements converted before their range bits are tested

void keep_first(std::atomic<int64_t>& first, int64_t k) {
    int64_t cur = first.load();
    while ((cur < 0 || k < cur) && !first.compare_exchange_weak(cur, k)) {
    }
}

// fn(b0, b1) converts the block [b0, b1) and returns the OR of range.outside over its raws.
// Returns the index of the first raw outside the range, or -1.
template <class Fn>
int64_t checked_blocks(const int64_t* src, int64_t n, const RawRange& range, Fn&& fn) {
    std::atomic<int64_t> first{-1};
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
        for (int64_t b0 = b; b0 < e; b0 += kCheckBlock) {
            const int64_t b1 = std::min(e, b0 + kCheckBlock);
            if (fn(b0, b1)) {
                keep_first(first, range.first_outside(src, b0, b1));
                return;
            }
        }
    });
    return first.load();
}

int64_t cast_raw(const int64_t* src, int64_t n, const SourceFormat& sf, const Format& fm, uint64_t seed,
                 int64_t* out) {
    const Target t(fm);
    const uint64_t key = stoch_key(seed);
    const int f2 = sf.w - sf.i;
    const bool s2 = sf.is_signed;
    const RawRange range(sf);
    int64_t first = -1;
    with_modes(fm.q, fm.o, [&](auto qc, auto oc) {
        constexpr QMode Q = decltype(qc)::value;
        constexpr OMode O = decltype(oc)::value;
        // int64 fast path when the source (as a signed container) and target are narrow.
        const bool narrow = fits_requant64(sf.w + (s2 ? 0 : 1), f2, fm);
        const int sh = f2 - fm.f();
        first = checked_blocks(src, n, range, [&](int64_t b, int64_t e) {
            uint64_t bad = 0;
            if (narrow && sh >= 0) {  // a right shift: any int64 is defined (a bad block's outputs are dropped)
                for (int64_t j = b; j < e; ++j) {
                    bad |= range.outside(src[j]);
                    const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
                    out[j] = requant64<Q, O>(src[j], sh, t, u);
                }
                return bad;
            }
            if (narrow) {  // a left shift could overflow for a raw outside the format: those convert 0
                for (int64_t j = b; j < e; ++j) {
                    const uint64_t o = range.outside(src[j]);
                    bad |= o;
                    const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
                    out[j] = requant64<Q, O>(o ? 0 : src[j], sh, t, u);
                }
                return bad;
            }
            for (int64_t j = b; j < e; ++j) {
                bad |= range.outside(src[j]);
                const int64_t v = range.wrap(src[j]);
                const i128 m = s2 ? i128(v) : i128(uint64_t(v));
                const uint64_t u = Q == QMode::STOCH ? stoch_bits(key, uint64_t(j)) : 0;
                out[j] = quantize_one<Q, O>(m, sf.w, f2, t, u);
            }
            return bad;
        });
    });
    return first;
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

int64_t to_double(const int64_t* raw, int64_t n, const SourceFormat& sf, double* out) {
    const int f = sf.w - sf.i;
    const bool s = sf.is_signed;
    const RawRange range(sf);
    // int64 -> double conversion rounds once (to nearest even); scaling by a
    // power of two is then exact while the result stays normal.
    const bool fast = f >= -900 && f <= 960;
    const double scale = fast ? std::ldexp(1.0, -f) : 1.0;
    // Raws of at most 52 bits (51 unsigned) lie in [-2^51, 2^51): their bits added to those of
    // 1.5 * 2^52 give the double 1.5 * 2^52 + v exactly, so (that - 1.5 * 2^52) is v, with no
    // int64 -> double instruction (AVX2 has none); raws outside the range only make that
    // block's outputs wrong, and the block is reported.
    const bool magic = fast && sf.w <= (s ? 52 : 51);
    return checked_blocks(raw, n, range, [&](int64_t b, int64_t e) {
        const double sc = scale;
        uint64_t bad = 0;
        if (magic) {
            constexpr uint64_t kMagicBits = 0x4338000000000000ull;  // 1.5 * 2^52
            for (int64_t j = b; j < e; ++j) {
                bad |= range.outside(raw[j]);
                double d;
                const uint64_t bits = uint64_t(raw[j]) + kMagicBits;
                std::memcpy(&d, &bits, sizeof d);
                out[j] = (d - 0x1.8p52) * sc;
            }
        } else if (fast && s) {
            for (int64_t j = b; j < e; ++j) {
                bad |= range.outside(raw[j]);
                out[j] = double(raw[j]) * sc;
            }
        } else if (fast) {
            for (int64_t j = b; j < e; ++j) {
                bad |= range.outside(raw[j]);
                out[j] = double(uint64_t(raw[j])) * sc;
            }
        } else {
            for (int64_t j = b; j < e; ++j) {
                bad |= range.outside(raw[j]);
                const int64_t v = range.wrap(raw[j]);
                const i128 m = s ? i128(v) : i128(uint64_t(v));
                out[j] = to_double_exact(m, f);
            }
        }
        return bad;
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
