// fixedpoint core: fixed-point formats and modes (Python-free).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace fixedpoint {

// Rounding (quantization) modes: the seven ap_fixed ones plus stochastic rounding.
enum class QMode : int { TRN = 0, TRN_ZERO, RND, RND_ZERO, RND_MIN_INF, RND_INF, RND_CONV, STOCH };
// Overflow modes, as in ap_fixed.
enum class OMode : int { WRAP = 0, SAT, SAT_ZERO, SAT_SYM, WRAP_SM };

constexpr int kMaxWidth = 1024;     // ap_fixed's default AP_INT_MAX_W
constexpr int kNativeMaxWidth = 64; // widths stored in one int64 per element
// Bound on |i|: ap_fixed allows any I (also I > W, I < 0); with |i| <= 2^20 and w <= 1024 every
// f = w - i, shift f2 - f1, natural width or exponent the kernels form from a few formats stays
// far inside int (no overflow, so the results stay exact). fixedpoint.format.MAX_INT_BITS.
constexpr int kMaxIntBits = 1 << 20;

const char* qmode_name(QMode q);
const char* omode_name(OMode o);

// ap_fixed<W, I, Q, O, N> (signed) or ap_ufixed<...> (unsigned).
struct Format {
    int w = 1;
    int i = 1;
    bool is_signed = true;
    QMode q = QMode::TRN;
    OMode o = OMode::WRAP;
    int n = 0;

    int f() const { return w - i; }
    // Throws std::invalid_argument naming the bad field and the allowed values.
    void validate() const;
};

using i128 = __int128;
using u128 = unsigned __int128;

// Smallest and largest stored integer of a format with w <= 64, as 128-bit values.
inline i128 raw_min(int w, bool s) { return s ? -(i128(1) << (w - 1)) : i128(0); }
inline i128 raw_max(int w, bool s) { return s ? (i128(1) << (w - 1)) - 1 : (i128(1) << w) - 1; }

// Index (0..n-1) of the first of n int64s v[0], v[stride], ... outside [raw_min(w, s), raw_max(w, s)],
// or -1 when all are inside (always for w >= 64: a 64-bit format spans every int64, as uint64
// bit patterns when unsigned). One branch-free pass that vectorizes (v + 2^(w-1) as uint64 has
// no bit at or above w exactly when v is in range), then a scan of the failing block only.
int64_t first_raw_outside(const int64_t* v, int64_t n, int64_t stride, int w, bool s);

}  // namespace fixedpoint
