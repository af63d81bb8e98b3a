// fixedpoint core: dense_accum bodies, included once per ISA translation unit.
//
// The including file defines FP_ISA_NS and FP_TABLE_FN and is compiled with that ISA's
// flags. The lane code is written with GCC vector extensions (64-byte vectors under
// AVX-512, 32-byte under AVX2, plain int64/int32 in the scalar build), plus intrinsics for
// the multiplies the compiler would not pick itself (vpmuldq, vpmaddwd).
//
// Exactness argument, per output row i (see accum.hpp for the semantics):
//  * SAT accumulator, sequential: t = clamp(round(p)); acc = clamp(acc + t), lane by lane, in
//    int32 lanes when every intermediate fits 32 bits, else int64 lanes (matmul_accum's
//    int64 "narrow" condition). The product clamp is skipped when the row's products
//    provably round into the accumulator's range.
//  * "Free" rows: when a bound B_i >= sum_k |round(p_k)| (from sum |x_ik| * max |w| and
//    max |x_ik| * sum_k max_j |w_kj|, in double with a safety margin) keeps every product and
//    every partial sum in range, no SAT clamp can fire, so acc = bias + sum_k round(p_k).
//  * WRAP accumulator with n = 0: every cast is the rounding followed by reduction modulo
//    2^w (a ring homomorphism), so acc = wrap(bias + sum_k round(p_k)) with the sum taken
//    modulo 2^64 (int64 lanes), modulo 2^32 (int32 lanes, accum w <= 32), or exactly in int32
//    when B_i bounds it below 2^31. Unrounded products (accum has at least the product's
//    fraction bits) are summed first and shifted once.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "accum.hpp"
#include "modes.hpp"
#include "quantize_scalar.hpp"
#include "simd.hpp"
#include "threads.hpp"

namespace fixedpoint {
namespace FP_ISA_NS {

namespace {

#if defined(FP_AVX512)
#define FP_ACC_VB 64
#elif defined(FP_AVX2)
#define FP_ACC_VB 32
#endif

#ifdef FP_ACC_VB
typedef int64_t V64 __attribute__((vector_size(FP_ACC_VB)));
typedef uint64_t U64 __attribute__((vector_size(FP_ACC_VB)));
typedef int32_t V32 __attribute__((vector_size(FP_ACC_VB)));
typedef uint32_t U32 __attribute__((vector_size(FP_ACC_VB)));
#else
typedef int64_t V64;
typedef uint64_t U64;
typedef int32_t V32;
typedef uint32_t U32;
#endif

#ifdef FP_ACC_VB
typedef int16_t V16 __attribute__((vector_size(FP_ACC_VB)));
typedef uint16_t U16 __attribute__((vector_size(FP_ACC_VB)));
// int16 lanes: (a * b) >> 16 (vpmulhw), (a * b + 2^14) >> 15 (vpmulhrsw), saturating a + b (vpaddsw)
inline V16 bcast16(int16_t v) {
#if defined(FP_AVX512)
    return V16(_mm512_set1_epi16(v));
#else
    return V16(_mm256_set1_epi16(v));
#endif
}
inline V16 mulhi16(V16 a, V16 b) {
#if defined(FP_AVX512)
    return V16(_mm512_mulhi_epi16(__m512i(a), __m512i(b)));
#else
    return V16(_mm256_mulhi_epi16(__m256i(a), __m256i(b)));
#endif
}
inline V16 mulhrs16(V16 a, V16 b) {
#if defined(FP_AVX512)
    return V16(_mm512_mulhrs_epi16(__m512i(a), __m512i(b)));
#else
    return V16(_mm256_mulhrs_epi16(__m256i(a), __m256i(b)));
#endif
}
inline V16 adds16(V16 a, V16 b) {
#if defined(FP_AVX512)
    return V16(_mm512_adds_epi16(__m512i(a), __m512i(b)));
#else
    return V16(_mm256_adds_epi16(__m256i(a), __m256i(b)));
#endif
}
#endif

template <class V>
struct Lane;
template <>
struct Lane<V64> {
    using S = int64_t;
    using U = U64;
    static constexpr int n = int(sizeof(V64) / 8);
};
template <>
struct Lane<V32> {
    using S = int32_t;
    using U = U32;
    static constexpr int n = int(sizeof(V32) / 4);
};

template <class V>
inline V bcast(typename Lane<V>::S s) {
    return V{} + s;
}
template <class V>
inline V vload(const void* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class V>
inline void vstore(void* p, V v) {
    std::memcpy(p, &v, sizeof v);
}
template <class V>
inline V vmin(V a, V b) {
    return a < b ? a : b;
}
template <class V>
inline V vmax(V a, V b) {
    return a > b ? a : b;
}
template <class V>
inline V uadd(V a, V b) {  // modular addition
    using U = typename Lane<V>::U;
    return V(U(a) + U(b));
}

// int64 lanes holding values within int32: the exact products (vpmuldq).
inline V64 mul_small(V64 a, V64 b) {
#if defined(FP_AVX512)
    return V64(_mm512_mul_epi32(__m512i(a), __m512i(b)));
#elif defined(FP_AVX2)
    return V64(_mm256_mul_epi32(__m256i(a), __m256i(b)));
#else
    return a * b;
#endif
}
// int32 lanes, each the pair (lo, hi) of int16: lo_a * lo_b + hi_a * hi_b (vpmaddwd).
inline V32 madd16(V32 a, V32 b) {
#if defined(FP_AVX512)
    return V32(_mm512_madd_epi16(__m512i(a), __m512i(b)));
#elif defined(FP_AVX2)
    return V32(_mm256_madd_epi16(__m256i(a), __m256i(b)));
#else
    const int64_t s = int64_t(int16_t(uint16_t(uint32_t(a)))) * int16_t(uint16_t(uint32_t(b))) +
                      int64_t(int16_t(uint16_t(uint32_t(a) >> 16))) * int16_t(uint16_t(uint32_t(b) >> 16));
    return int32_t(uint32_t(uint64_t(s)));  // vpmaddwd wraps the one overflowing case
#endif
}

#ifdef FP_ACC_VB
constexpr bool kRowPathBuild = true;
#else
constexpr bool kRowPathBuild = false;
#endif

enum Prod : int { P_SMALL = 0, P_64, P_LO32, P_MADD };
enum Shift : int { SH_NONE = 0, SH_RND, SH_TRN, SH_LEFT };  // SH_TRN: right shift, no rounding constant
enum Mode : int { M_FREE = 0, M_SAT, M_SATNC };             // SATNC: SAT without the product clamp

template <class V, int P, int SH, int MODE>
struct Step {
    V lo, hi, half;
    int sh;
    inline V prod(V x, V w) const {
        if constexpr (P == P_SMALL) return mul_small(x, w);
        else if constexpr (P == P_MADD) return madd16(x, w);
        else {
            using U = typename Lane<V>::U;
            return V(U(x) * U(w));
        }
    }
    inline V operator()(V a, V p) const {
        V t;
        if constexpr (SH == SH_NONE) t = p;
        else if constexpr (SH == SH_RND) t = (p + half) >> sh;
        else if constexpr (SH == SH_TRN) t = p >> sh;
        else t = p << sh;
        if constexpr (MODE == M_FREE) {
            return uadd(a, t);
        } else {
            if constexpr (MODE == M_SAT) t = vmin(vmax(t, lo), hi);
            return vmin(vmax(a + t, lo), hi);
        }
    }
};

template <int NV, class V, class St>
inline void tile(const typename Lane<V>::S* xk, int64_t Kx, const V* w, int64_t ws, V* acc, const St& st) {
    V a[NV];
    for (int v = 0; v < NV; ++v) a[v] = acc[v];
    for (int64_t k = 0; k < Kx; ++k) {
        const V xb = bcast<V>(xk[k]);
        const V* wr = w + k * ws;
        for (int v = 0; v < NV; ++v) a[v] = st(a[v], st.prod(xb, wr[v]));
    }
    for (int v = 0; v < NV; ++v) acc[v] = a[v];
}

// One output row: acc (nv vectors, in/out) over Kx broadcast values xk and the packed w.
template <class V, class St>
void run_row(const typename Lane<V>::S* xk, int64_t Kx, const V* w, int64_t nv, V* acc, const St& st) {
    int64_t v = 0;
    for (; v + 4 <= nv; v += 4) tile<4>(xk, Kx, w + v, nv, acc + v, st);
    if (v + 2 <= nv) {
        tile<2>(xk, Kx, w + v, nv, acc + v, st);
        v += 2;
    }
    if (v < nv) tile<1>(xk, Kx, w + v, nv, acc + v, st);
}

template <class T>
struct AlignedBuf {  // std::vector of over-aligned vector types, without relying on the allocator
    std::vector<unsigned char> raw;
    T* p = nullptr;
    void resize(size_t n) {
        raw.assign(n * sizeof(T) + 64, 0);
        uintptr_t a = reinterpret_cast<uintptr_t>(raw.data());
        p = reinterpret_cast<T*>((a + 63) & ~uintptr_t(63));
    }
    T* data() const { return p; }
};

// ---------------------------------------------------------------------------
// The final cast (accum raws -> result raws) over a contiguous block.
struct FinalCtx {
    Target t;
    int sh;        // accum f - result f
    bool narrow;   // requant64 applies
    int aw, af;    // accum container
    bool as;
};

template <QMode Q, OMode O>
void final_cast(const int64_t* src, int64_t n, const FinalCtx& c, int64_t* out) {
    const Target& t = c.t;
    int64_t j = 0;
    if constexpr ((Q == QMode::TRN || Q == QMode::RND) && (O == OMode::WRAP || O == OMode::SAT)) {
        if (c.narrow) {
            constexpr int L = Lane<V64>::n;
            const V64 lo = bcast<V64>(int64_t(t.lo)), hi = bcast<V64>(int64_t(t.hi));
            const int sh = c.sh;
            const V64 half = bcast<V64>(sh > 0 ? int64_t(1) << (sh - 1) : 0);
            const int wsh = 64 - t.w;
            for (; j + L <= n; j += L) {
                V64 r = vload<V64>(src + j);
                if (sh > 0) r = Q == QMode::RND ? (r + half) >> sh : r >> sh;
                else if (sh < 0) r = r << -sh;
                if constexpr (O == OMode::SAT) {
                    r = vmin(vmax(r, lo), hi);
                } else {
                    r = r << wsh;
                    r = t.s ? r >> wsh : V64(U64(r) >> wsh);
                }
                vstore(out + j, r);
            }
        }
    }
    if (c.narrow) {
        for (; j < n; ++j) out[j] = requant64<Q, O>(src[j], c.sh, t, 0);
    } else {
        for (; j < n; ++j) {
            const i128 m = c.as ? i128(src[j]) : i128(uint64_t(src[j]));
            out[j] = quantize_one<Q, O>(m, c.aw, c.af, t, 0);
        }
    }
}

using FinalFn = void (*)(const int64_t*, int64_t, const FinalCtx&, int64_t*);

// ---------------------------------------------------------------------------
// The scalar sequential accumulation (every mode): matmul_accum's loop for one row.
template <QMode Q, OMode O>
void scalar_row(const int64_t* xr, const int64_t* w, int64_t K, int64_t N, const SourceFormat& fx,
                const SourceFormat& fw, const Format& acc, const Target& t, bool narrow, const int64_t* bias,
                int64_t* dst) {
    const int pw = fx.w + fw.w, pf = (fx.w - fx.i) + (fw.w - fw.i), af = acc.f();
    const int psh = pf - af;
    for (int64_t j = 0; j < N; ++j) dst[j] = bias[j];
    for (int64_t k = 0; k < K; ++k) {
        const int64_t* wr = w + k * N;
        if (narrow) {
            const int64_t xv = xr[k];
            for (int64_t j = 0; j < N; ++j) {
                const int64_t pq = requant64<Q, O>(xv * wr[j], psh, t, 0);
                dst[j] = requant64<Q, O>(dst[j] + pq, 0, t, 0);
            }
        } else {
            const i128 xv = fx.is_signed ? i128(xr[k]) : i128(uint64_t(xr[k]));
            for (int64_t j = 0; j < N; ++j) {
                const i128 wv = fw.is_signed ? i128(wr[j]) : i128(uint64_t(wr[j]));
                const int64_t pq = quantize_one<Q, O>(xv * wv, pw, pf, t, 0);
                const i128 a = acc.is_signed ? i128(dst[j]) : i128(uint64_t(dst[j]));
                const i128 b = acc.is_signed ? i128(pq) : i128(uint64_t(pq));
                dst[j] = quantize_one<Q, O>(a + b, acc.w + 1, af, t, 0);
            }
        }
    }
}

using ScalarRowFn = void (*)(const int64_t*, const int64_t*, int64_t, int64_t, const SourceFormat&,
                             const SourceFormat&, const Format&, const Target&, bool, const int64_t*, int64_t*);

// ---------------------------------------------------------------------------
enum Variant : int { V_SCALAR = 0, V_I32_FREE, V_I32_PAIR, V_I32_SAT, V_I32_SATNC, V_I64_FREE, V_I64_SAT, V_I64_SATNC,
                     V_I16 };

struct Plan {
    int64_t K = 0, N = 0;
    bool vec = false;      // the lane kernels apply (else every row runs scalar_row)
    bool sat = false;      // accum SAT (else WRAP, n = 0)
    bool rnd = false;      // accum RND (else TRN)
    int psh = 0;           // product fraction bits - accum fraction bits
    int p32 = -1;          // int32 product kind (P_MADD / P_LO32) or -1
    bool fold = false;     // P_MADD with the rounding constant folded into the pair
    bool i32sat = false;   // the sequential SAT step fits int32 lanes
    bool wrap_mod32 = false;  // WRAP accum w <= 32: int32 sums modulo 2^32 are enough
    bool small64 = false;  // both operands within int32 (vpmuldq)
    // The int16 row lanes (row path only, see compute_block16): 0 = no, 1 = TRN (vpmulhw by
    // w << (16 - psh)), 2 = RND (vpmulhrsw by w << (15 - psh)); i16sat: SAT by vpaddsw.
    int p16 = 0;
    bool i16sat = false;
    std::vector<int16_t> w16;  // (K, N) the scaled weights
    int64_t lo = 0, hi = 0;
    double lim = 0;        // min(hi, -lo): the magnitude every product and partial sum may take
    double bmin = 0, bmax = 0;
    __int128 bmin_i = 0, bmax_i = 0;  // the same bias extrema, exact
    double wmax = 0, wsum = 0;  // max |w|, sum_k max_j |w[k, j]|
    int xshift = 0;        // |x| >> xshift summed in uint64 without overflow
    int64_t nv64 = 0, nv32 = 0, kp = 0;
    AlignedBuf<V64> w64;
    AlignedBuf<V32> w32, w32p;
    int32_t c1 = 0;        // x lane high half (folded rounding constant)
    SourceFormat fx{}, fw{};
    Format acc{};
    Target tacc{Format{}};
    bool narrow = false;
    ScalarRowFn scalar_fn = nullptr;
};

constexpr double kMargin = 1.0 + 1e-9;

inline int cont_w(const SourceFormat& f) { return f.w + (f.is_signed ? 0 : 1); }

template <class V, int P, int SH, int MODE>
inline Step<V, P, SH, MODE> make_step(int64_t lo, int64_t hi, int64_t half, int sh) {
    using S = typename Lane<V>::S;
    return Step<V, P, SH, MODE>{bcast<V>(S(lo)), bcast<V>(S(hi)), bcast<V>(S(half)), sh};
}

// Dispatch the shift kind at run time once per row (the row loop is the template).
template <class V, int P, int MODE>
void run_row_shift(const Plan& pl, int shkind, int sh, const typename Lane<V>::S* xk, int64_t Kx, const V* w,
                   int64_t nv, V* acc) {
    const int64_t half = (shkind == SH_RND) ? (int64_t(1) << (sh - 1)) : 0;
    switch (shkind) {
        case SH_NONE: run_row(xk, Kx, w, nv, acc, make_step<V, P, SH_NONE, MODE>(pl.lo, pl.hi, 0, 0)); break;
        case SH_RND: run_row(xk, Kx, w, nv, acc, make_step<V, P, SH_RND, MODE>(pl.lo, pl.hi, half, sh)); break;
        case SH_TRN: run_row(xk, Kx, w, nv, acc, make_step<V, P, SH_TRN, MODE>(pl.lo, pl.hi, 0, sh)); break;
        default: run_row(xk, Kx, w, nv, acc, make_step<V, P, SH_LEFT, MODE>(pl.lo, pl.hi, 0, sh)); break;
    }
}

// The shift applied per step by a variant, and the left shift deferred to the end (free rows).
inline void shift_of(const Plan& pl, bool free_row, bool madd_fold, int& kind, int& sh, int& defer) {
    defer = 0;
    if (pl.psh > 0) {
        kind = (pl.rnd && !madd_fold) ? SH_RND : SH_TRN;
        sh = pl.psh;
    } else if (pl.psh == 0) {
        kind = SH_NONE;
        sh = 0;
    } else if (free_row) {
        kind = SH_NONE;
        sh = 0;
        defer = -pl.psh;
    } else {
        kind = SH_LEFT;
        sh = -pl.psh;
    }
}

void build_plan(Plan& pl, const int64_t* w, int64_t K, int64_t N, const SourceFormat& fx, const SourceFormat& fw,
                const Format& acc, const int64_t* bias) {
    pl.K = K;
    pl.N = N;
    pl.fx = fx;
    pl.fw = fw;
    pl.acc = acc;
    pl.tacc = Target(acc);
    const int pw = fx.w + fw.w, pf = (fx.w - fx.i) + (fw.w - fw.i), af = acc.f();
    pl.psh = pf - af;
    pl.narrow = fits_requant64(pw, pf, acc) && fits_requant64(acc.w + 1, af, acc);
    with_modes(acc.q, acc.o, [&](auto qc, auto oc) {
        pl.scalar_fn = &scalar_row<decltype(qc)::value, decltype(oc)::value>;
    });
    pl.vec = pl.narrow && (acc.q == QMode::TRN || acc.q == QMode::RND) &&
             (acc.o == OMode::WRAP || acc.o == OMode::SAT) && acc.n == 0;
    if (!pl.vec) return;
    pl.sat = acc.o == OMode::SAT;
    pl.rnd = acc.q == QMode::RND;
    pl.lo = int64_t(pl.tacc.lo);
    pl.hi = int64_t(pl.tacc.hi);
    pl.lim = std::min(double(pl.hi), -double(pl.lo));
    const int xcw = cont_w(fx), wcw = cont_w(fw), pcw = xcw + wcw;
    pl.small64 = xcw <= 32 && wcw <= 32;
    // int32 lanes
    if (xcw <= 16 && wcw <= 16 && pl.psh <= 29) pl.p32 = P_MADD;
    else if (xcw <= 32 && wcw <= 32 && pcw <= 32 && pl.psh <= 30) pl.p32 = P_LO32;
    pl.fold = pl.p32 == P_MADD && pl.rnd && pl.psh >= 1;
    pl.i32sat = pl.p32 >= 0 && acc.w + (acc.is_signed ? 0 : 1) <= 31 && (pl.psh >= 0 || pcw - pl.psh <= 32);
    pl.wrap_mod32 = acc.w <= 32;
    // int16 lanes: x within int16, 1 <= psh, every w << s16 within int16 (and not -2^15 for
    // vpmulhrsw, whose one overflow is -2^15 * -2^15); then each lane's product is exactly the
    // rounded product floor(x * w / 2^psh) (TRN) or floor((x * w + 2^(psh-1)) / 2^psh) (RND), of
    // magnitude below 2^14. A WRAP accumulator of at most 16 bits sums them modulo 2^16 (order-free,
    // reduced to acc.w once at the end); a signed 16-bit SAT accumulator is vpaddsw's range, and
    // its product casts never clamp.
    {
        const int s16 = pl.rnd ? 15 - pl.psh : 16 - pl.psh;
        const bool mode_ok = (!pl.sat && acc.w <= 16) || (pl.sat && acc.w == 16 && acc.is_signed);
        bool ok = kRowPathBuild && xcw <= 16 && pl.psh >= 1 && s16 >= 0 && mode_ok;
        for (int64_t q = 0; ok && q < K * N; ++q) {
            const int64_t v = fw.is_signed ? w[q] : int64_t(uint64_t(w[q]));
            const int64_t sv = v * (int64_t(1) << s16);
            ok = sv <= 32767 && sv >= (pl.rnd ? -32767 : -32768) && v < (int64_t(1) << 20) && v > -(int64_t(1) << 20);
        }
        if (ok) {
            pl.p16 = pl.rnd ? 2 : 1;
            pl.i16sat = pl.sat;
            pl.w16.resize(size_t(std::max<int64_t>(1, K * N)));
            for (int64_t q = 0; q < K * N; ++q) pl.w16[size_t(q)] = int16_t(w[q] * (int64_t(1) << s16));
        }
    }
    // bounds
    pl.bmin = 0;
    pl.bmax = 0;
    if (bias)
        for (int64_t j = 0; j < N; ++j) {
            const double b = acc.is_signed ? double(bias[j]) : double(uint64_t(bias[j]));
            pl.bmin = std::min(pl.bmin, b);
            pl.bmax = std::max(pl.bmax, b);
            const __int128 bi = acc.is_signed ? __int128(bias[j]) : __int128(uint64_t(bias[j]));
            pl.bmin_i = std::min(pl.bmin_i, bi);
            pl.bmax_i = std::max(pl.bmax_i, bi);
        }
    pl.wmax = 0;
    pl.wsum = 0;
    for (int64_t k = 0; k < K; ++k) {
        double m = 0;
        for (int64_t j = 0; j < N; ++j) m = std::max(m, std::fabs(double(w[k * N + j])));
        pl.wmax = std::max(pl.wmax, m);
        pl.wsum += m;
    }
    pl.wsum *= kMargin;
    int kb = 0;
    while ((int64_t(1) << kb) < K + 1) ++kb;
    pl.xshift = std::max(0, xcw + kb - 62);
    // packed w
    constexpr int L64 = Lane<V64>::n, L32 = Lane<V32>::n;
    pl.nv64 = (N + L64 - 1) / L64;
    pl.w64.resize(size_t(std::max<int64_t>(1, K * pl.nv64)));
    int64_t* w64 = reinterpret_cast<int64_t*>(pl.w64.data());
    for (int64_t k = 0; k < K; ++k)
        for (int64_t j = 0; j < N; ++j) w64[k * pl.nv64 * L64 + j] = w[k * N + j];
    if (pl.p32 >= 0) {
        pl.nv32 = (N + L32 - 1) / L32;
        const int64_t ws = pl.nv32 * L32;
        pl.w32.resize(size_t(std::max<int64_t>(1, K * pl.nv32)));
        int32_t* w32 = reinterpret_cast<int32_t*>(pl.w32.data());
        int32_t c2 = 0;
        if (pl.fold) {
            const int e = pl.psh - 1, e2 = std::min(e, 14);
            c2 = int32_t(1) << e2;
            pl.c1 = int32_t(1) << (e - e2);
        }
        for (int64_t k = 0; k < K; ++k)
            for (int64_t j = 0; j < ws; ++j) {
                const int64_t v = j < N ? w[k * N + j] : 0;
                w32[k * ws + j] = pl.p32 == P_MADD ? int32_t(uint32_t(uint16_t(v)) | (uint32_t(c2) << 16))
                                                   : int32_t(v);
            }
        if (pl.p32 == P_MADD && pl.psh <= 0) {
            pl.kp = (K + 1) / 2;
            pl.w32p.resize(size_t(std::max<int64_t>(1, pl.kp * pl.nv32)));
            int32_t* wp = reinterpret_cast<int32_t*>(pl.w32p.data());
            for (int64_t q = 0; q < pl.kp; ++q)
                for (int64_t j = 0; j < ws; ++j) {
                    const int64_t a = j < N ? w[2 * q * N + j] : 0;
                    const int64_t b = (j < N && 2 * q + 1 < K) ? w[(2 * q + 1) * N + j] : 0;
                    wp[q * ws + j] = int32_t(uint32_t(uint16_t(a)) | (uint32_t(uint16_t(b)) << 16));
                }
        }
    }
}

// Per-thread scratch.
struct Scratch {
    AlignedBuf<V64> a64;
    AlignedBuf<V32> a32;
    std::vector<int32_t> xk32;
    std::vector<int64_t> t64;
};

// The variant for rows whose sum_k (|x_k| >> xshift) is at most xs and max_k |x_k| at most xm
// (one row, or the maxima over a block of rows: every bound below grows with xs and xm, so a
// variant valid for the block's maxima is valid for each of its rows).
int choose_var(const Plan& pl, uint64_t xs, uint64_t xm) {
    const int64_t K = pl.K;
    const int xsh = pl.xshift;
    // bounds (double, with margins): P = sum |p| (product units), B = sum |round(p)| (accum units)
    const double xsum = (double(xs) + double(K)) * std::ldexp(1.0, xsh) * kMargin;
    const double P = std::min(xsum * pl.wmax, double(xm) * pl.wsum) * kMargin;
    const double B = (pl.psh > 0 ? std::ldexp(P, -pl.psh) + double(K) : std::ldexp(P, -pl.psh)) * kMargin + 1.0;
    const double pmax = (pl.psh > 0 ? std::ldexp(double(xm) * pl.wmax, -pl.psh) + 1.0
                                    : std::ldexp(double(xm) * pl.wmax, -pl.psh)) * kMargin + 1.0;
    const double T = pl.psh > 0 ? B : P * kMargin + 1.0;  // what a free int32 lane holds
    const bool t32 = T < 2147483647.0;
    int var;
    if (pl.sat) {
        // The double bounds stay conservative only far below 2^53 (beyond, their +1 margins vanish
        // in rounding); the bias is compared exactly (a bias next to the accumulator's limit plus a
        // small product sum rounded back under it, and the clamp was skipped).
        const bool fits = B < 0x1p50 && pmax < 0x1p50;
        const __int128 Bi = fits ? __int128(std::ceil(B)) : 0;
        const bool safe = fits && B <= pl.lim && pl.bmax_i + Bi <= __int128(pl.hi) && pl.bmin_i - Bi >= __int128(pl.lo);
        const bool noclamp = fits && pmax <= pl.lim;
        if (safe) var = (pl.p32 >= 0 && t32) ? (pl.p32 == P_MADD && pl.psh <= 0 ? V_I32_PAIR : V_I32_FREE) : V_I64_FREE;
        else if (pl.i32sat) var = noclamp ? V_I32_SATNC : V_I32_SAT;
        else var = noclamp ? V_I64_SATNC : V_I64_SAT;
    } else {
        if (pl.p32 >= 0 && (pl.wrap_mod32 || t32)) var = (pl.p32 == P_MADD && pl.psh <= 0) ? V_I32_PAIR : V_I32_FREE;
        else var = V_I64_FREE;
    }
    return var;
}

inline bool is_free(int var) { return var == V_I32_FREE || var == V_I32_PAIR || var == V_I64_FREE; }
inline bool is_i64(int var) { return var == V_I64_FREE || var == V_I64_SAT || var == V_I64_SATNC; }

// A lane's (free or not) sum t into the accumulator raw: free rows hold sum round(p) (times
// 2^-defer), to which the bias is added, WRAP reducing modulo 2^w once.
inline int64_t finish_lane(const Plan& pl, bool free_row, int defer, int64_t t, int64_t bias) {
    if (!free_row) return t;
    uint64_t v = uint64_t(t) << defer;
    v += uint64_t(bias);
    if (!pl.sat) {
        const int wsh = 64 - pl.acc.w;
        v <<= wsh;
        v = pl.acc.is_signed ? uint64_t(int64_t(v) >> wsh) : (v >> wsh);
    }
    return int64_t(v);
}

// Row i into dst (N accum raws). Returns false when x has a raw outside its format.
bool do_row(const Plan& pl, const int64_t* xr, const int64_t* w, const int64_t* bias, int64_t xlo, int64_t xhi,
            Scratch& sc, int64_t* dst) {
    const int64_t K = pl.K, N = pl.N;
    // scan: range check, sum and max of |x| (all modes)
    int64_t mn = 0, mx = 0;
    uint64_t xs = 0, xm = 0;
    const int xsh = pl.xshift;
    for (int64_t k = 0; k < K; ++k) {
        const int64_t v = xr[k];
        mn = std::min(mn, v);
        mx = std::max(mx, v);
        const uint64_t a = v < 0 ? uint64_t(0) - uint64_t(v) : uint64_t(v);
        xs += a >> xsh;
        xm = std::max(xm, a);
    }
    if (pl.fx.w < 64 && (mn < xlo || mx > xhi)) return false;
    if (!pl.vec) {
        pl.scalar_fn(xr, w, K, N, pl.fx, pl.fw, pl.acc, pl.tacc, pl.narrow, bias, dst);
        return true;
    }
    const int var = choose_var(pl, xs, xm);
    const bool free_row = var == V_I32_FREE || var == V_I32_PAIR || var == V_I64_FREE;
    int kind, sh, defer;
    if (var == V_I64_FREE || var == V_I64_SAT || var == V_I64_SATNC) {
        shift_of(pl, free_row, false, kind, sh, defer);
        V64* a = sc.a64.data();
        int64_t* al = reinterpret_cast<int64_t*>(a);
        const int64_t nl = pl.nv64 * Lane<V64>::n;
        for (int64_t j = 0; j < nl; ++j) al[j] = free_row ? 0 : (j < N ? bias[j] : 0);
        const V64* wp = pl.w64.data();
        auto go = [&](auto pc) {
            constexpr int PK = decltype(pc)::value;
            if (var == V_I64_FREE) run_row_shift<V64, PK, M_FREE>(pl, kind, sh, xr, K, wp, pl.nv64, a);
            else if (var == V_I64_SAT) run_row_shift<V64, PK, M_SAT>(pl, kind, sh, xr, K, wp, pl.nv64, a);
            else run_row_shift<V64, PK, M_SATNC>(pl, kind, sh, xr, K, wp, pl.nv64, a);
        };
        if (pl.small64) go(std::integral_constant<int, P_SMALL>{});
        else go(std::integral_constant<int, P_64>{});
        for (int64_t j = 0; j < N; ++j) sc.t64[size_t(j)] = al[j];
    } else {
        V32* a = sc.a32.data();
        int32_t* al = reinterpret_cast<int32_t*>(a);
        const int64_t nl = pl.nv32 * Lane<V32>::n;
        for (int64_t j = 0; j < nl; ++j) al[j] = free_row ? 0 : int32_t(j < N ? bias[j] : 0);
        int32_t* xk = sc.xk32.data();
        if (var == V_I32_PAIR) {
            for (int64_t q = 0; q < pl.kp; ++q) {
                const int64_t x0 = xr[2 * q], x1 = 2 * q + 1 < K ? xr[2 * q + 1] : 0;
                xk[q] = int32_t(uint32_t(uint16_t(x0)) | (uint32_t(uint16_t(x1)) << 16));
            }
            shift_of(pl, true, false, kind, sh, defer);
            run_row(xk, pl.kp, pl.w32p.data(), pl.nv32, a, make_step<V32, P_MADD, SH_NONE, M_FREE>(0, 0, 0, 0));
        } else {
            if (pl.p32 == P_MADD) {
                for (int64_t k = 0; k < K; ++k)
                    xk[k] = int32_t(uint32_t(uint16_t(xr[k])) | (uint32_t(pl.c1) << 16));
            } else {
                for (int64_t k = 0; k < K; ++k) xk[k] = int32_t(xr[k]);
            }
            shift_of(pl, free_row, pl.fold, kind, sh, defer);
            const V32* wp = pl.w32.data();
            auto go = [&](auto pc) {
                constexpr int PK = decltype(pc)::value;
                if (var == V_I32_FREE) run_row_shift<V32, PK, M_FREE>(pl, kind, sh, xk, K, wp, pl.nv32, a);
                else if (var == V_I32_SAT) run_row_shift<V32, PK, M_SAT>(pl, kind, sh, xk, K, wp, pl.nv32, a);
                else run_row_shift<V32, PK, M_SATNC>(pl, kind, sh, xk, K, wp, pl.nv32, a);
            };
            if (pl.p32 == P_MADD) go(std::integral_constant<int, P_MADD>{});
            else go(std::integral_constant<int, P_LO32>{});
        }
        for (int64_t j = 0; j < N; ++j) sc.t64[size_t(j)] = al[j];  // sign-extended
    }
    for (int64_t j = 0; j < N; ++j) dst[j] = finish_lane(pl, free_row, defer, sc.t64[size_t(j)], bias[j]);
    return true;
}

// ---------------------------------------------------------------------------
// The row path (small N): lanes over a block of kBR rows instead of over output columns.
// Column lanes leave N - ceil(N/L)*L lanes idle per step; for N < L32 (the int32 lane count:
// 16 under AVX-512, 8 under AVX2) the kernel instead transposes kBR = 2*L32 rows of x into a
// (K, kBR) scratch and, per column j and step k, broadcasts w[k, j] across the rows' lanes.
// Every lane runs the same Step as the column kernel (same products, casts and clamps), so
// each output is bit for bit the column kernel's. The variant is chosen once per block from
// the block's maxima of sum |x| and max |x| (see choose_var), which is valid for every row.
#ifdef FP_ACC_VB
constexpr bool kRowPath = true;
#else
constexpr bool kRowPath = false;
#endif
constexpr int kL32 = Lane<V32>::n, kL64 = Lane<V64>::n;
constexpr int kBR = 2 * kL32;                       // rows per block of the row path
// The row path takes N < kRowMaxN. AVX-512 (L32 = 16): rows win for N <= 8, tie at 12..15. AVX2
// (L32 = 8): at N = 8 the column lanes are full, but each row then runs one dependent vector
// chain plus its per-row scan; rows measured 1.8x faster (conv K = 36, N = 8, WRAP accumulator).
#if defined(FP_AVX2) && !defined(FP_AVX512)
constexpr int kRowMaxN = kL32 + 1;
#else
constexpr int kRowMaxN = kL32;
#endif
constexpr int kNR32 = kBR / kL32, kNR64 = kBR / kL64;  // vectors per block operand

// NJ columns over the block: xs[k*NR + r] is vector r of the rows' operand k, w[k*ws + j] the
// weight broadcast to every row; acc[j*NR + r] in/out.
template <int NJ, class V, class St>
inline void rtile(const V* xs, int64_t Kx, const typename Lane<V>::S* w, int64_t ws, V* acc, const St& st) {
    constexpr int NR = kBR / Lane<V>::n;
    V a[NJ][NR];
    for (int j = 0; j < NJ; ++j)
        for (int r = 0; r < NR; ++r) a[j][r] = acc[j * NR + r];
    for (int64_t k = 0; k < Kx; ++k) {
        V xv[NR];
        for (int r = 0; r < NR; ++r) xv[r] = xs[k * NR + r];
        const typename Lane<V>::S* wr = w + k * ws;
        for (int j = 0; j < NJ; ++j) {
            const V wb = bcast<V>(wr[j]);
            for (int r = 0; r < NR; ++r) a[j][r] = st(a[j][r], st.prod(xv[r], wb));
        }
    }
    for (int j = 0; j < NJ; ++j)
        for (int r = 0; r < NR; ++r) acc[j * NR + r] = a[j][r];
}

template <class V, class St>
void run_rows(const V* xs, int64_t Kx, const typename Lane<V>::S* w, int64_t ws, int64_t N, V* acc, const St& st) {
    constexpr int NR = kBR / Lane<V>::n;
    int64_t j = 0;
    if constexpr (NR <= 2)
        for (; j + 4 <= N; j += 4) rtile<4>(xs, Kx, w + j, ws, acc + j * NR, st);
    for (; j + 2 <= N; j += 2) rtile<2>(xs, Kx, w + j, ws, acc + j * NR, st);
    if (j < N) rtile<1>(xs, Kx, w + j, ws, acc + j * NR, st);
}

template <class V, int P, int MODE>
void run_rows_shift(const Plan& pl, int shkind, int sh, const V* xs, int64_t Kx, const typename Lane<V>::S* w,
                    int64_t ws, int64_t N, V* acc) {
    const int64_t half = (shkind == SH_RND) ? (int64_t(1) << (sh - 1)) : 0;
    switch (shkind) {
        case SH_NONE: run_rows(xs, Kx, w, ws, N, acc, make_step<V, P, SH_NONE, MODE>(pl.lo, pl.hi, 0, 0)); break;
        case SH_RND: run_rows(xs, Kx, w, ws, N, acc, make_step<V, P, SH_RND, MODE>(pl.lo, pl.hi, half, sh)); break;
        case SH_TRN: run_rows(xs, Kx, w, ws, N, acc, make_step<V, P, SH_TRN, MODE>(pl.lo, pl.hi, 0, sh)); break;
        default: run_rows(xs, Kx, w, ws, N, acc, make_step<V, P, SH_LEFT, MODE>(pl.lo, pl.hi, 0, sh)); break;
    }
}

template <class V>
inline auto lane_of(const V& v, int l) {  // lane l of a vector (the value itself in the scalar build)
    if constexpr (std::is_arithmetic_v<V>) {
        (void)l;
        return v;
    } else {
        return v[l];
    }
}

struct BlockScratch {
    AlignedBuf<V64> g;    // (K, kBR) int64 operands
    AlignedBuf<V32> s;    // (K or K/2, kBR) int32 lanes (int16 operands, pairs or int32)
    AlignedBuf<V64> a64;  // (N, kBR) accumulators
    AlignedBuf<V32> a32;
    void init(int64_t K, int64_t N) {
        g.resize(size_t(K * kNR64 + 1));  // + one vector: slack for the conv path's overlapping copies
        s.resize(size_t(std::max<int64_t>(1, K * kNR32)));
        a64.resize(size_t(std::max<int64_t>(1, N * kNR64)));
        a32.resize(size_t(std::max<int64_t>(1, N * kNR32)));
    }
};

// kL64 lanes of int64 (or int32, sign-extended) from p.
inline V64 widen(const int64_t* p) { return vload<V64>(p); }
inline V64 widen(const int32_t* p) {
#ifdef FP_ACC_VB
    typedef int32_t V32h __attribute__((vector_size(FP_ACC_VB / 2)));
    return __builtin_convertvector(vload<V32h>(p), V64);
#else
    return int64_t(*p);
#endif
}

// The block's lane sums t (N, kBR) into accumulator raws dst (N, kBR) (finish_lane, in lanes).
template <class T>
inline void finish_block(const Plan& pl, bool free_row, int defer, const T* t, const int64_t* bias, int64_t* dst) {
    const int64_t N = pl.N;
    const int wsh = 64 - pl.acc.w;
    for (int64_t j = 0; j < N; ++j)
        for (int q = 0; q < kBR; q += kL64) {
            V64 v = widen(t + j * kBR + q);
            if (free_row) {
                U64 u = (U64(v) << defer) + U64(bcast<V64>(bias[j]));
                if (!pl.sat) {
                    u <<= wsh;
                    u = pl.acc.is_signed ? U64(V64(u) >> wsh) : (u >> wsh);
                }
                v = V64(u);
            }
            vstore(dst + j * kBR + q, v);
        }
}

int compute_block(const Plan& pl, int nr, const int64_t* bias, int64_t xlo, int64_t xhi, BlockScratch& sc,
                  int64_t* dst, int forced = -1, bool s32_ready = false);

#ifdef FP_ACC_VB
// NJ columns of the int16 row lanes: xs[k] the block's operand k (kBR rows = one V16), w[k*N + j]
// the scaled weight broadcast to every row; acc[j] in/out.
template <int NJ, int P16, bool SAT>
inline void rtile16(const V16* xs, int64_t K, const int16_t* w, int64_t N, V16* acc) {
    V16 a[NJ];
    for (int j = 0; j < NJ; ++j) a[j] = acc[j];
    for (int64_t k = 0; k < K; ++k) {
        const V16 xv = xs[k];
        const int16_t* wr = w + k * N;
        for (int j = 0; j < NJ; ++j) {
            const V16 wb = bcast16(wr[j]);
            const V16 t = P16 == 2 ? mulhrs16(xv, wb) : mulhi16(xv, wb);
            if constexpr (SAT) a[j] = adds16(a[j], t);
            else a[j] = V16(U16(a[j]) + U16(t));  // modulo 2^16
        }
    }
    for (int j = 0; j < NJ; ++j) acc[j] = a[j];
}

template <int P16, bool SAT>
void run_rows16(const V16* xs, int64_t K, const int16_t* w, int64_t N, V16* acc) {
    int64_t j = 0;
    for (; j + 4 <= N; j += 4) rtile16<4, P16, SAT>(xs, K, w + j, N, acc + j);
    for (; j + 2 <= N; j += 2) rtile16<2, P16, SAT>(xs, K, w + j, N, acc + j);
    if (j < N) rtile16<1, P16, SAT>(xs, K, w + j, N, acc + j);
}

// The block through the int16 lanes (Plan::p16): operands int16 in sc.s ((K, kBR), packed from
// sc.g unless s16_ready), the N lane sums widened into dst (N, kBR): WRAP adds the bias and
// reduces modulo 2^acc.w (the lanes hold the sum modulo 2^16, acc.w <= 16); SAT lanes started
// from the bias and are the accumulator.
void compute_block16(const Plan& pl, const int64_t* bias, BlockScratch& sc, int64_t* dst, bool s16_ready) {
    const int64_t K = pl.K, N = pl.N;
    int16_t* s16 = reinterpret_cast<int16_t*>(sc.s.data());
    if (!s16_ready) {
        const int64_t* g = reinterpret_cast<const int64_t*>(sc.g.data());
        for (int64_t q = 0; q < K * kBR; ++q) s16[q] = int16_t(g[q]);
    }
    V16* a = reinterpret_cast<V16*>(sc.a32.data());
    for (int64_t j = 0; j < N; ++j) a[j] = bcast16(int16_t(pl.i16sat ? bias[j] : 0));
    const V16* xs = reinterpret_cast<const V16*>(s16);
    if (pl.p16 == 2) {
        if (pl.i16sat) run_rows16<2, true>(xs, K, pl.w16.data(), N, a);
        else run_rows16<2, false>(xs, K, pl.w16.data(), N, a);
    } else {
        if (pl.i16sat) run_rows16<1, true>(xs, K, pl.w16.data(), N, a);
        else run_rows16<1, false>(xs, K, pl.w16.data(), N, a);
    }
    typedef int16_t V16q __attribute__((vector_size(FP_ACC_VB / 4)));
    const int wsh = 64 - pl.acc.w;
    const int16_t* al = reinterpret_cast<const int16_t*>(a);
    for (int64_t j = 0; j < N; ++j)
        for (int q = 0; q < kBR; q += kL64) {
            V64 v = __builtin_convertvector(vload<V16q>(al + j * kBR + q), V64);
            if (!pl.i16sat) {
                U64 u = U64(v) + U64(bcast<V64>(bias[j]));
                u <<= wsh;
                v = pl.acc.is_signed ? V64(u) >> wsh : V64(u >> wsh);
            }
            vstore(dst + j * kBR + q, v);
        }
}
#endif

// In-register transposes of kL64 x kL64 int64 tiles (the dense row path's block fill).
#if defined(FP_AVX512)
typedef __m512i VI;
inline VI load_vi(const int64_t* p) { return _mm512_loadu_si512(p); }
inline VI load_vi_masked(const int64_t* p, int n) { return _mm512_maskz_loadu_epi64(__mmask8((1u << n) - 1), p); }
inline void transpose_vi(VI* a) {
    VI t[8], u[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm512_unpacklo_epi64(a[2 * i], a[2 * i + 1]);      // (a0[2L], a1[2L]) per 128-bit lane L
        t[2 * i + 1] = _mm512_unpackhi_epi64(a[2 * i], a[2 * i + 1]);  // (a0[2L+1], a1[2L+1])
    }
    for (int h = 0; h < 2; ++h) {  // rows 4h..4h+3
        u[4 * h + 0] = _mm512_shuffle_i64x2(t[4 * h + 0], t[4 * h + 2], 0x88);  // k = 0, 4
        u[4 * h + 1] = _mm512_shuffle_i64x2(t[4 * h + 0], t[4 * h + 2], 0xdd);  // k = 2, 6
        u[4 * h + 2] = _mm512_shuffle_i64x2(t[4 * h + 1], t[4 * h + 3], 0x88);  // k = 1, 5
        u[4 * h + 3] = _mm512_shuffle_i64x2(t[4 * h + 1], t[4 * h + 3], 0xdd);  // k = 3, 7
    }
    a[0] = _mm512_shuffle_i64x2(u[0], u[4], 0x88);
    a[4] = _mm512_shuffle_i64x2(u[0], u[4], 0xdd);
    a[2] = _mm512_shuffle_i64x2(u[1], u[5], 0x88);
    a[6] = _mm512_shuffle_i64x2(u[1], u[5], 0xdd);
    a[1] = _mm512_shuffle_i64x2(u[2], u[6], 0x88);
    a[5] = _mm512_shuffle_i64x2(u[2], u[6], 0xdd);
    a[3] = _mm512_shuffle_i64x2(u[3], u[7], 0x88);
    a[7] = _mm512_shuffle_i64x2(u[3], u[7], 0xdd);
}
#elif defined(FP_AVX2)
typedef __m256i VI;
inline VI load_vi(const int64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline VI load_vi_masked(const int64_t* p, int n) {
    const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
    return _mm256_maskload_epi64(reinterpret_cast<const long long*>(p), m);
}
inline void transpose_vi(VI* a) {
    const VI t0 = _mm256_unpacklo_epi64(a[0], a[1]), t1 = _mm256_unpackhi_epi64(a[0], a[1]);
    const VI t2 = _mm256_unpacklo_epi64(a[2], a[3]), t3 = _mm256_unpackhi_epi64(a[2], a[3]);
    a[0] = _mm256_permute2x128_si256(t0, t2, 0x20);
    a[1] = _mm256_permute2x128_si256(t1, t3, 0x20);
    a[2] = _mm256_permute2x128_si256(t0, t2, 0x31);
    a[3] = _mm256_permute2x128_si256(t1, t3, 0x31);
}
#endif

// Rows r < nr (nr <= kBR) with operand k at rp[r][off[k]]: their N accum raws into dst, laid out
// (N, kBR) (lanes past nr hold row 0's).
// Dense rows (off[k] = k): tiles transposed in registers; rows past nr repeat row 0 (their outputs
// are dropped; as copies of a real row they change neither the range check nor the block bounds).
// Returns the first row holding a raw outside x's format (nothing computed), else -1.
int do_block(const Plan& pl, const int64_t* const* rp, int nr, const int64_t* off, const int64_t* bias,
             int64_t xlo, int64_t xhi, BlockScratch& sc, int64_t* dst, int forced) {
    const int64_t K = pl.K;
    int64_t* g = reinterpret_cast<int64_t*>(sc.g.data());
#if defined(FP_AVX512) || defined(FP_AVX2)
    // dense rows (off[k] = k): kL64 x kL64 tiles of (rows, k) loaded row-wise (masked past K),
    // transposed in registers, stored as (k, rows)
    (void)off;
    constexpr int L = kL64;
    for (int q = 0; q < kBR; q += L) {
        const int64_t* rows[L];
        for (int t = 0; t < L; ++t) rows[t] = rp[q + t < nr ? q + t : 0];
        for (int64_t k0 = 0; k0 < K; k0 += L) {
            const int rem = int(std::min<int64_t>(L, K - k0));
            VI a[L];
            if (rem == L) {
                for (int t = 0; t < L; ++t) a[t] = load_vi(rows[t] + k0);
            } else {
                for (int t = 0; t < L; ++t) a[t] = load_vi_masked(rows[t] + k0, rem);
            }
            transpose_vi(a);
            for (int u = 0; u < rem; ++u) vstore(g + (k0 + u) * kBR + q, a[u]);
        }
    }
#else
    {
        for (int64_t k = 0; k < K; ++k) {
            const int64_t o = off[k];
            int64_t* gk = g + k * kBR;
            for (int r = 0; r < nr; ++r) gk[r] = rp[r][o];
            for (int r = nr; r < kBR; ++r) gk[r] = gk[0];
        }
    }
#endif
    return compute_block(pl, nr, bias, xlo, xhi, sc, dst, forced);
}

// The block's operands are in sc.g ((K, kBR) int64; lanes past nr repeat real rows): their N accum
// raws into dst (N, kBR). Returns the first row holding a raw outside x's format, else -1.
// forced >= 0: the variant, already chosen (and x's range checked) for the whole input (see
// global_variant); s32_ready: the operands are already in sc.s as the variant's int32 lanes
// (forced == V_I32_FREE; sc.g is not read).
int compute_block(const Plan& pl, int nr, const int64_t* bias, int64_t xlo, int64_t xhi, BlockScratch& sc,
                  int64_t* dst, int forced, bool s32_ready) {
    const int64_t K = pl.K, N = pl.N;
    int64_t* g = reinterpret_cast<int64_t*>(sc.g.data());
    const V64* gv = sc.g.data();
    int var = forced;
    if (forced < 0) {
    // scan: range, per-row sum of |x| >> xshift, max |x| (lanes are rows)
    V64 mn = V64{}, mx = V64{};
    U64 m = U64{}, sum[kNR64];
    for (int r = 0; r < kNR64; ++r) sum[r] = U64{};
    const int xsh = pl.xshift;
    for (int64_t k = 0; k < K; ++k)
        for (int r = 0; r < kNR64; ++r) {
            const V64 v = gv[k * kNR64 + r];
            mn = vmin(mn, v);
            mx = vmax(mx, v);
            const V64 sg = v >> 63;
            const U64 a = U64(v ^ sg) - U64(sg);
            sum[r] += a >> xsh;
            m = vmax(m, a);
        }
    int64_t mnv = 0, mxv = 0;
    uint64_t xs = 0, xm = 0;
    for (int l = 0; l < kL64; ++l) {
        mnv = std::min<int64_t>(mnv, int64_t(lane_of(mn, l)));
        mxv = std::max<int64_t>(mxv, int64_t(lane_of(mx, l)));
        xm = std::max<uint64_t>(xm, uint64_t(lane_of(m, l)));
        for (int r = 0; r < kNR64; ++r) xs = std::max<uint64_t>(xs, uint64_t(lane_of(sum[r], l)));
    }
    if (pl.fx.w < 64 && (mnv < xlo || mxv > xhi)) {
        for (int r = 0; r < nr; ++r)
            for (int64_t k = 0; k < K; ++k) {
                const int64_t v = g[k * kBR + r];
                if (v < xlo || v > xhi) return r;
            }
    }
    var = pl.p16 ? int(V_I16) : choose_var(pl, xs, xm);
    }
#ifdef FP_ACC_VB
    if (var == V_I16) {
        compute_block16(pl, bias, sc, dst, s32_ready);
        return -1;
    }
#endif
    const bool free_row = is_free(var);
    int kind, sh, defer;
    if (is_i64(var)) {
        shift_of(pl, free_row, false, kind, sh, defer);
        V64* a = sc.a64.data();
        int64_t* al = reinterpret_cast<int64_t*>(a);
        for (int64_t j = 0; j < N; ++j)
            for (int r = 0; r < kBR; ++r) al[j * kBR + r] = free_row ? 0 : bias[j];
        const int64_t* wp = reinterpret_cast<const int64_t*>(pl.w64.data());
        const int64_t ws = pl.nv64 * kL64;
        auto go = [&](auto pc) {
            constexpr int PK = decltype(pc)::value;
            if (var == V_I64_FREE) run_rows_shift<V64, PK, M_FREE>(pl, kind, sh, gv, K, wp, ws, N, a);
            else if (var == V_I64_SAT) run_rows_shift<V64, PK, M_SAT>(pl, kind, sh, gv, K, wp, ws, N, a);
            else run_rows_shift<V64, PK, M_SATNC>(pl, kind, sh, gv, K, wp, ws, N, a);
        };
        if (pl.small64) go(std::integral_constant<int, P_SMALL>{});
        else go(std::integral_constant<int, P_64>{});
        finish_block(pl, free_row, defer, al, bias, dst);
        return -1;
    }
    V32* a = sc.a32.data();
    int32_t* al = reinterpret_cast<int32_t*>(a);
    for (int64_t j = 0; j < N; ++j)
        for (int r = 0; r < kBR; ++r) al[j * kBR + r] = free_row ? 0 : int32_t(bias[j]);
    int32_t* s32 = reinterpret_cast<int32_t*>(sc.s.data());
    const int64_t ws = pl.nv32 * kL32;
    if (var == V_I32_PAIR) {
        for (int64_t q = 0; q < pl.kp; ++q) {
            const int64_t* g0 = g + 2 * q * kBR;
            int32_t* sq = s32 + q * kBR;
            if (2 * q + 1 < K) {
                const int64_t* g1 = g0 + kBR;
                for (int r = 0; r < kBR; ++r) sq[r] = int32_t(uint32_t(uint16_t(g0[r])) | (uint32_t(uint16_t(g1[r])) << 16));
            } else {
                for (int r = 0; r < kBR; ++r) sq[r] = int32_t(uint32_t(uint16_t(g0[r])));
            }
        }
        shift_of(pl, true, false, kind, sh, defer);
        run_rows(sc.s.data(), pl.kp, pl.w32p.data() ? reinterpret_cast<const int32_t*>(pl.w32p.data()) : nullptr, ws,
                 N, a, make_step<V32, P_MADD, SH_NONE, M_FREE>(0, 0, 0, 0));
    } else {
        if (s32_ready) {
        } else if (pl.p32 == P_MADD) {
            const uint32_t hi = uint32_t(pl.c1) << 16;
            for (int64_t q = 0; q < K * kBR; ++q) s32[q] = int32_t(uint32_t(uint16_t(g[q])) | hi);
        } else {
            for (int64_t q = 0; q < K * kBR; ++q) s32[q] = int32_t(g[q]);
        }
        shift_of(pl, free_row, pl.fold, kind, sh, defer);
        const int32_t* wp = reinterpret_cast<const int32_t*>(pl.w32.data());
        auto go = [&](auto pc) {
            constexpr int PK = decltype(pc)::value;
            if (var == V_I32_FREE) run_rows_shift<V32, PK, M_FREE>(pl, kind, sh, sc.s.data(), K, wp, ws, N, a);
            else if (var == V_I32_SAT) run_rows_shift<V32, PK, M_SAT>(pl, kind, sh, sc.s.data(), K, wp, ws, N, a);
            else run_rows_shift<V32, PK, M_SATNC>(pl, kind, sh, sc.s.data(), K, wp, ws, N, a);
        };
        if (pl.p32 == P_MADD) go(std::integral_constant<int, P_MADD>{});
        else go(std::integral_constant<int, P_LO32>{});
    }
    finish_block(pl, free_row, defer, al, bias, dst);
    return -1;
}

// ---------------------------------------------------------------------------
// Where the rows come from: dense rows x + i*K, or the im2col windows of a convolution (row
// (s, oh, ow) based at x[s, oh*sh, ow*sw, 0], operand k at base[off[k]]).
struct RowSrc {
    const int64_t* x = nullptr;
    int64_t K = 0;
    const ConvGeom* g = nullptr;
    std::vector<int64_t> off;
};

struct RowCursor {  // row i's base pointer, advanced without divisions
    const RowSrc& src;
    int64_t i, s = 0, oh = 0, ow = 0;
    RowCursor(const RowSrc& r, int64_t i0) : src(r), i(i0) {
        if (src.g) {
            const int64_t P = src.g->OH * src.g->OW;
            s = i0 / P;
            oh = (i0 % P) / src.g->OW;
            ow = i0 % src.g->OW;
        }
    }
    const int64_t* ptr() const {
        if (!src.g) return src.x + i * src.K;
        const ConvGeom& g = *src.g;
        return src.x + ((s * g.Hp + oh * g.sh) * g.Wp + ow * g.sw) * g.C;
    }
    void next() {
        ++i;
        if (src.g && ++ow == src.g->OW) {
            ow = 0;
            if (++oh == src.g->OH) {
                oh = 0;
                ++s;
            }
        }
    }
    void advance(int64_t len) {  // conv rows only, len <= OW - ow
        i += len;
        ow += len;
        if (ow == src.g->OW) {
            ow = 0;
            if (++oh == src.g->OH) {
                oh = 0;
                ++s;
            }
        }
    }
};

// The conv row path without gathers: a block's output pixels are runs of consecutive ow within
// one (s, oh), and for operand k = (dh, dw, c) a run's lanes x[s, oh*sh + dh, (ow0 + t)*sw + dw, c],
// t < len, are contiguous in the "phase plane" P[s][c][dw % sw][h][w'] = x[s, h, w'*sw + dw % sw, c]
// at w' = ow0 + t + dw / sw. With C = 1 and sw = 1 the planes are x itself; otherwise each thread
// builds them for the samples of its current range of rows (a copy of x, not of the windows). Runs
// are copied a vector at a time: the spill past a run lands in lanes written afterwards (later
// runs, the next operand, the padding lanes or the scratch's slack vector).
struct ConvPlanes {
    const ConvGeom* g = nullptr;
    const int64_t* x = nullptr;
    const int64_t* xend = nullptr;
    bool direct = false;
    int64_t Wq = 0, psz = 0, ssz = 0;  // plane row width, plane size, planes per sample (C*sw) * psz
    int64_t s0 = 0;
    std::vector<int64_t> buf;
    void init(const ConvGeom& geo, const int64_t* xp) {
        g = &geo;
        x = xp;
        xend = x + geo.S * geo.Hp * geo.Wp * geo.C;
        direct = geo.C == 1 && geo.sw == 1;
        Wq = (geo.Wp + geo.sw - 1) / geo.sw;
        psz = geo.Hp * Wq;
        ssz = geo.C * geo.sw * psz;
    }
    void build(int64_t sa, int64_t sb) {  // samples sa..sb
        if (direct) return;
        const ConvGeom& G = *g;
        s0 = sa;
        buf.resize(size_t((sb - sa + 1) * ssz + kL64));
        const int64_t C = G.C, sw = G.sw, cstep = sw * psz;
        for (int64_t s = sa; s <= sb; ++s) {
            const int64_t* xv = x + s * G.Hp * G.Wp * C;
            int64_t* d = buf.data() + (s - s0) * ssz;
            for (int64_t h = 0; h < G.Hp; ++h) {
                int64_t ph = 0, wq = 0;
                for (int64_t w = 0; w < G.Wp; ++w, xv += C) {
                    int64_t* dv = d + ph * psz + h * Wq + wq;
                    for (int64_t c = 0; c < C; ++c) dv[c * cstep] = xv[c];
                    if (++ph == sw) {
                        ph = 0;
                        ++wq;
                    }
                }
            }
        }
    }
    // Where row (s, oh, ow) reads operand k: run_base(s, oh, ow) + koff[k].
    const int64_t* run_base(int64_t s, int64_t oh, int64_t ow) const {
        if (direct) return x + (s * g->Hp + oh * g->sh) * g->Wp + ow;
        return buf.data() + (s - s0) * ssz + oh * g->sh * Wq + ow;
    }
    std::vector<int64_t> koffs() const {
        std::vector<int64_t> o;
        for (int64_t dh = 0; dh < g->kh; ++dh)
            for (int64_t dw = 0; dw < g->kw; ++dw)
                for (int64_t c = 0; c < g->C; ++c)
                    o.push_back(direct ? dh * g->Wp + dw : (c * g->sw + dw % g->sw) * psz + dh * Wq + dw / g->sw);
        return o;
    }
};

struct Run {
    int r, len;
    const int64_t* base;
};

template <class VC>
inline void copy_run(int64_t* dst, const int64_t* src, int n) {
    constexpr int L = int(sizeof(VC) / 8);
    for (int t = 0; t < n; t += L) vstore(dst + t, vload<VC>(src + t));
}

void fill_conv_block(const ConvPlanes& P, const int64_t* koff, int64_t K, const Run* run, int nrun, int nr,
                     BlockScratch& sc) {
#ifdef FP_ACC_VB
    typedef int64_t V64h __attribute__((vector_size(FP_ACC_VB / 2)));
#else
    typedef int64_t V64h;
#endif
    int64_t* gk = reinterpret_cast<int64_t*>(sc.g.data());
    for (int64_t k = 0; k < K; ++k, gk += kBR) {
        const int64_t o = koff[k];
        for (int u = 0; u < nrun; ++u) {
            const int64_t* src = run[u].base + o;
            int64_t* dst = gk + run[u].r;
            const int n = run[u].len;
            const int64_t reach = n <= kL64 / 2 ? kL64 / 2 : (n + kL64 - 1) / kL64 * kL64;  // elements read
            if (P.direct && src + reach > P.xend) {
                for (int t = 0; t < n; ++t) dst[t] = src[t];
            } else if (n <= kL64 / 2) {
                vstore(dst, vload<V64h>(src));
            } else {
                copy_run<V64>(dst, src, n);
            }
        }
        for (int r = nr; r < kBR; ++r) gk[r] = gk[0];
    }
}

// The fused post-op on a block of result raws, in place (see AccumPost).
struct PostCtx {
    bool on = false, relu = false, cast2 = false;
    FinalCtx fc{Target(Format{}), 0, false, 0, 0, false};
    FinalFn fn = nullptr;
    void init(const Format& res, const AccumPost* post) {
        if (!post) return;
        relu = post->relu && res.is_signed;
        r2 = post->res2;
        cast2 = post->cast2 && !(r2.w == res.w && r2.i == res.i && r2.is_signed == res.is_signed);
        on = relu || cast2;
        if (!cast2) return;
        fc = FinalCtx{Target(r2), res.f() - r2.f(), fits_requant64(res.w + (res.is_signed ? 0 : 1), res.f(), r2),
                      res.w, res.f(), res.is_signed};
        with_modes(r2.q, r2.o, [&](auto qc, auto oc) { fn = &final_cast<decltype(qc)::value, decltype(oc)::value>; });
    }
    // (result)(acc) then the post-op, on acc raws src into dst (src == dst allowed).
    bool pre_relu = false, skip_final = false;  // see fold_exact_result
    void finish(FinalFn f, const FinalCtx& c, int64_t* src, int64_t n, int64_t* dst) const {
        if (pre_relu) relu_inplace(src, n);
        if (!skip_final) f(src, n, c, dst);
        else if (src != dst) std::copy(src, src + n, dst);
        if (on) apply(dst, n);
    }
    static void relu_inplace(int64_t* v, int64_t n) {
        int64_t j = 0;
#ifdef FP_ACC_VB
        constexpr int L = Lane<V64>::n;
        for (; j + L <= n; j += L) vstore(v + j, vmax(vload<V64>(v + j), V64{}));
#endif
        for (; j < n; ++j) v[j] = v[j] > 0 ? v[j] : 0;
    }
    // When result_t holds every accum_t value exactly, (res2)(relu((result) acc)) is
    // (res2)(relu(acc)): the first cast only rescales (relu keeps the sign), and a cast depends
    // only on the value. The kernel then casts once, acc -> res2, after the ReLU on the acc raws
    // (no cast at all when res2 has acc's w, i and signedness).
    void fold_exact_result(const Format& acc, const Format& res, FinalCtx& fc, FinalFn& fn) {
        if (!cast2) return;
        const bool holds = res.f() >= acc.f() &&
                           (acc.is_signed ? (res.is_signed && res.i >= acc.i)
                                          : (res.is_signed ? res.i >= acc.i + 1 : res.i >= acc.i));
        if (!holds) return;
        pre_relu = relu && acc.is_signed;
        skip_final = r2.w == acc.w && r2.i == acc.i && r2.is_signed == acc.is_signed;
        fc = FinalCtx{Target(r2), acc.f() - r2.f(), fits_requant64(acc.w + (acc.is_signed ? 0 : 1), acc.f(), r2),
                      acc.w, acc.f(), acc.is_signed};
        with_modes(r2.q, r2.o, [&](auto qc, auto oc) { fn = &final_cast<decltype(qc)::value, decltype(oc)::value>; });
        on = relu = cast2 = false;
    }
    Format r2{};
    void apply(int64_t* v, int64_t n) const {
        if (relu) {
            int64_t j = 0;
#ifdef FP_ACC_VB
            constexpr int L = Lane<V64>::n;
            for (; j + L <= n; j += L) vstore(v + j, vmax(vload<V64>(v + j), V64{}));
#endif
            for (; j < n; ++j) v[j] = v[j] > 0 ? v[j] : 0;
        }
        if (cast2) fn(v, n, fc, v);
    }
};

// fill_conv_block straight into the lanes of V_I32_FREE or V_I16 (sc.s, (K, kBR)): each operand as
// the variant's lane (int16 with the folded constant's high half for P_MADD, int32, or int16).
void fill_conv_block_s32(const ConvPlanes& P, const Plan& pl, const int64_t* koff, int64_t K, const Run* run,
                         int nrun, int nr, BlockScratch& sc) {
    (void)P;
    if (pl.p16) {  // V_I16: int16 lanes
        int16_t* sk = reinterpret_cast<int16_t*>(sc.s.data());
        for (int64_t k = 0; k < K; ++k, sk += kBR) {
            const int64_t o = koff[k];
            for (int u = 0; u < nrun; ++u) {
                const int64_t* src = run[u].base + o;
                int16_t* dst = sk + run[u].r;
                const int n = run[u].len;
                for (int t = 0; t < n; ++t) dst[t] = int16_t(src[t]);
            }
            for (int r = nr; r < kBR; ++r) sk[r] = sk[0];
        }
        return;
    }
    int32_t* sk = reinterpret_cast<int32_t*>(sc.s.data());
    const bool madd = pl.p32 == P_MADD;
    const uint32_t hi = uint32_t(pl.c1) << 16;
    for (int64_t k = 0; k < K; ++k, sk += kBR) {
        const int64_t o = koff[k];
        for (int u = 0; u < nrun; ++u) {
            const int64_t* src = run[u].base + o;
            int32_t* dst = sk + run[u].r;
            const int n = run[u].len;
            if (madd)
                for (int t = 0; t < n; ++t) dst[t] = int32_t(uint32_t(uint16_t(src[t])) | hi);
            else
                for (int t = 0; t < n; ++t) dst[t] = int32_t(src[t]);
        }
        for (int r = nr; r < kBR; ++r) sk[r] = sk[0];
    }
}

// One pass over every operand value x[0..n) (the input, or the padded input of a convolution):
// when every raw is in range and the variant for the whole input's maxima (sum |x_k| over a row
// bounded by K max |x|) is a free one, that variant holds for every row (choose_var's bounds grow
// with xs and xm), and the blocks skip their scans. Returns it, else -1 (per-block choice; an
// out-of-range raw is then found and reported by the block scan).
int global_variant(const Plan& pl, const int64_t* x, int64_t n, int64_t xlo, int64_t xhi) {
    if (!pl.vec) return -1;
    int64_t mn = 0, mx = 0;
    int64_t t = 0;
#ifdef FP_ACC_VB
    constexpr int L = Lane<V64>::n;
    V64 vmn = V64{}, vmx = V64{};
    for (; t + L <= n; t += L) {
        const V64 v = vload<V64>(x + t);
        vmn = vmin(vmn, v);
        vmx = vmax(vmx, v);
    }
    for (int l = 0; l < L; ++l) {
        mn = std::min<int64_t>(mn, vmn[l]);
        mx = std::max<int64_t>(mx, vmx[l]);
    }
#endif
    for (; t < n; ++t) {
        mn = std::min(mn, x[t]);
        mx = std::max(mx, x[t]);
    }
    if (pl.fx.w < 64 && (mn < xlo || mx > xhi)) return -1;
    if (pl.p16) return V_I16;  // data-independent (x in range is all it needs)
    if (mn == std::numeric_limits<int64_t>::min()) return -1;
    const uint64_t xm = std::max(uint64_t(mx), uint64_t(0) - uint64_t(mn));
    const uint64_t xs = uint64_t(pl.K) * (xm >> pl.xshift);
    const int var = choose_var(pl, xs, xm);
    return is_free(var) ? var : -1;
}

#ifdef FP_ACC_VB
// The int16 lanes (Plan::p16) over a convolution with lanes over samples instead of output
// pixels: x is first transposed, as int16, into sample blocks XT (S/kBR blocks, F = Hp*Wp*C, kBR):
// XT[(sb*F + f)*kBR + r] = x[sb*kBR + r, f] (samples past S repeat sample 0; their outputs are
// dropped). For output pixel (oh, ow) and sample block sb, operand k = (dh, dw, c) of every lane is
// then one aligned vector, XT[sb][(oh*sh + dh)*Wp + ow*sw + dw)*C + c]: no window is built. Each
// lane runs the same int16 step as compute_block16 (the same products and sums), so each output
// is bit for bit the row path's.
template <int NJ, int P16, bool SAT>
inline void rtile16o(const V16* xb, const int64_t* koff, int64_t K, const int16_t* w, int64_t N, V16* acc) {
    V16 a[NJ];
    for (int j = 0; j < NJ; ++j) a[j] = acc[j];
    for (int64_t k = 0; k < K; ++k) {
        const V16 xv = xb[koff[k]];
        const int16_t* wr = w + k * N;
        for (int j = 0; j < NJ; ++j) {
            const V16 t = P16 == 2 ? mulhrs16(xv, bcast16(wr[j])) : mulhi16(xv, bcast16(wr[j]));
            if constexpr (SAT) a[j] = adds16(a[j], t);
            else a[j] = V16(U16(a[j]) + U16(t));
        }
    }
    for (int j = 0; j < NJ; ++j) acc[j] = a[j];
}

template <int P16, bool SAT>
void run_rows16o(const V16* xb, const int64_t* koff, int64_t K, const int16_t* w, int64_t N, V16* acc) {
    int64_t j = 0;
    for (; j + 4 <= N; j += 4) rtile16o<4, P16, SAT>(xb, koff, K, w + j, N, acc + j);
    for (; j + 2 <= N; j += 2) rtile16o<2, P16, SAT>(xb, koff, K, w + j, N, acc + j);
    if (j < N) rtile16o<1, P16, SAT>(xb, koff, K, w + j, N, acc + j);
}

void conv16_run(const int64_t* x, const ConvGeom& g, const Plan& pl, const int64_t* bias, FinalFn final_fn,
                const FinalCtx& fc, const PostCtx& pc, int64_t* out) {
    const int64_t S = g.S, F = g.Hp * g.Wp * g.C, SB = (S + kBR - 1) / kBR, K = pl.K, N = pl.N;
    const int64_t P = g.OH * g.OW;
    AlignedBuf<V16> xt;
    xt.resize(size_t(std::max<int64_t>(1, SB * F)));
    int16_t* xt16 = reinterpret_cast<int16_t*>(xt.data());
    parallel_for(SB, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, F)), [&](int64_t b0, int64_t b1) {
        typedef int16_t V16l __attribute__((vector_size(2 * kL64)));
        for (int64_t sb = b0; sb < b1; ++sb) {
            int16_t* d = xt16 + sb * F * kBR;
            const int64_t F4 = F / kL64 * kL64;
            for (int r0 = 0; r0 < kBR; r0 += kL64) {  // kL64 x kL64 tiles (samples, f) transposed in registers
                const int64_t* rows[kL64];
                for (int u = 0; u < kL64; ++u) {
                    const int64_t s = sb * kBR + r0 + u;
                    rows[u] = x + (s < S ? s : 0) * F;
                }
                for (int64_t f0 = 0; f0 < F4; f0 += kL64) {
                    VI t[kL64];
                    for (int u = 0; u < kL64; ++u) t[u] = load_vi(rows[u] + f0);
                    transpose_vi(t);
                    for (int u = 0; u < kL64; ++u) {
                        V64 v;
                        std::memcpy(&v, &t[u], sizeof v);
                        vstore(d + (f0 + u) * kBR + r0, __builtin_convertvector(v, V16l));
                    }
                }
                for (int u = 0; u < kL64; ++u)
                    for (int64_t f = F4; f < F; ++f) d[f * kBR + r0 + u] = int16_t(rows[u][f]);
            }
        }
    });
    std::vector<int64_t> koff;  // in vectors
    for (int64_t dh = 0; dh < g.kh; ++dh)
        for (int64_t dw = 0; dw < g.kw; ++dw)
            for (int64_t c = 0; c < g.C; ++c) koff.push_back((dh * g.Wp + dw) * g.C + c);
    const int wsh = 64 - pl.acc.w;
    const int64_t OW = g.OW, items = SB * g.OH;  // one item: the OW pixels of one output row, kBR samples
    parallel_for(items, std::max<int64_t>(1, (int64_t(1) << 12) / std::max<int64_t>(1, K * N * OW)),
                 [&](int64_t i0, int64_t i1) {
        AlignedBuf<V16> a;
        a.resize(size_t(N));
        std::vector<int64_t> blk(size_t(OW * N * kBR));  // (OW, N, kBR)
        typedef int16_t V16q __attribute__((vector_size(FP_ACC_VB / 4)));
        for (int64_t it = i0; it < i1; ++it) {
            const int64_t sb = it / g.OH, oh = it % g.OH;
            for (int64_t ow = 0; ow < OW; ++ow) {
                const V16* xb = xt.data() + sb * F + (oh * g.sh * g.Wp + ow * g.sw) * g.C;
                V16* av = a.data();
                for (int64_t j = 0; j < N; ++j) av[j] = bcast16(int16_t(pl.i16sat ? bias[j] : 0));
                if (pl.p16 == 2) {
                    if (pl.i16sat) run_rows16o<2, true>(xb, koff.data(), K, pl.w16.data(), N, av);
                    else run_rows16o<2, false>(xb, koff.data(), K, pl.w16.data(), N, av);
                } else {
                    if (pl.i16sat) run_rows16o<1, true>(xb, koff.data(), K, pl.w16.data(), N, av);
                    else run_rows16o<1, false>(xb, koff.data(), K, pl.w16.data(), N, av);
                }
                const int16_t* al = reinterpret_cast<const int16_t*>(av);
                int64_t* bo = blk.data() + ow * N * kBR;
                for (int64_t j = 0; j < N; ++j)
                    for (int q = 0; q < kBR; q += kL64) {
                        V64 v = __builtin_convertvector(vload<V16q>(al + j * kBR + q), V64);
                        if (!pl.i16sat) {
                            U64 u = U64(v) + U64(bcast<V64>(bias[j]));
                            u <<= wsh;
                            v = pl.acc.is_signed ? V64(u) >> wsh : V64(u >> wsh);
                        }
                        vstore(bo + j * kBR + q, v);
                    }
            }
            pc.finish(final_fn, fc, blk.data(), OW * N * kBR, blk.data());
            const int nr = int(std::min<int64_t>(kBR, S - sb * kBR));
            const int64_t rs = P * N;  // sample r's row: out + (s * P + p) * N
            for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t* bo = blk.data() + ow * N * kBR;
                int64_t* o = out + (sb * kBR * P + oh * OW + ow) * N;
                if (nr == kBR && N % kL64 == 0) {
                    for (int r0 = 0; r0 < kBR; r0 += kL64)
                        for (int64_t j0 = 0; j0 < N; j0 += kL64) {
                            VI t[kL64];
                            for (int u = 0; u < kL64; ++u) t[u] = load_vi(bo + (j0 + u) * kBR + r0);
                            transpose_vi(t);
                            for (int u = 0; u < kL64; ++u) vstore(o + (r0 + u) * rs + j0, t[u]);
                        }
                } else {
                    for (int r = 0; r < nr; ++r)
                        for (int64_t j = 0; j < N; ++j) o[r * rs + j] = bo[j * kBR + r];
                }
            }
        }
    });
}
#endif

void accum_run(const RowSrc& src, int64_t M, const SourceFormat& fx, const int64_t* w, const SourceFormat& fw,
               int64_t N, const Format& acc, const int64_t* bias_in, const Format& res, int64_t* out,
               const AccumPost* post) {
    const int64_t K = src.K;
    if (M <= 0 || N <= 0) return;
    std::vector<int64_t> zero_bias;
    const int64_t* bias = bias_in;
    if (!bias) {
        zero_bias.assign(size_t(N), 0);
        bias = zero_bias.data();
    }
    Plan pl;
    build_plan(pl, w, K, N, fx, fw, acc, bias);
    FinalCtx fc{Target(res), acc.f() - res.f(), fits_requant64(acc.w + (acc.is_signed ? 0 : 1), acc.f(), res),
                acc.w, acc.f(), acc.is_signed};
    FinalFn final_fn = nullptr;
    with_modes(res.q, res.o, [&](auto qc, auto oc) { final_fn = &final_cast<decltype(qc)::value, decltype(oc)::value>; });
    PostCtx pc;
    pc.init(res, post);
    pc.fold_exact_result(acc, res, fc, final_fn);
    // x's raw range (a 64-bit format spans every int64; its check is skipped in do_row)
    const int64_t xlo = fx.w >= 64 ? std::numeric_limits<int64_t>::min() : int64_t(raw_min(fx.w, fx.is_signed));
    const int64_t xhi = fx.w >= 64 ? std::numeric_limits<int64_t>::max() : int64_t(raw_max(fx.w, fx.is_signed));
    // The path: row lanes when N is below the int32 lane count (see the row path above).
    const bool rows = kRowPath && pl.vec && N < kRowMaxN;
    const bool gather = src.g != nullptr;
    std::atomic<int64_t> bad{-1};
    int64_t rb = std::max<int64_t>(1, std::min<int64_t>(256, 4096 / N));  // rows per final-cast block
    if (rows) rb = std::max<int64_t>(1, rb / kBR) * kBR;
    const int64_t grain = std::max<int64_t>(rb, (int64_t(1) << 15) / std::max<int64_t>(1, K * N));
    auto record = [&](int64_t i) {
        int64_t cur = bad.load();
        while ((cur < 0 || i < cur) && !bad.compare_exchange_weak(cur, i)) {
        }
    };
    int forced = -1;
    if (rows) {
        const int64_t nx = src.g ? src.g->S * src.g->Hp * src.g->Wp * src.g->C : M * K;
        forced = global_variant(pl, src.x, nx, xlo, xhi);
    }
#ifdef FP_ACC_VB
    if (src.g && pl.vec && pl.p16) {  // the int16 lanes over samples (x in range, checked by one pass)
        const int64_t nx = src.g->S * src.g->Hp * src.g->Wp * src.g->C;
        if ((rows ? forced : global_variant(pl, src.x, nx, xlo, xhi)) == V_I16) {
            conv16_run(src.x, *src.g, pl, bias, final_fn, fc, pc, out);
            return;
        }
    }
#endif
    const bool direct32 = (forced == V_I32_FREE || forced == V_I16) && src.g != nullptr;
    parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
        Scratch sc;
        BlockScratch bs;
        if (rows) {
            bs.init(K, N);
        } else {
            sc.a64.resize(size_t(std::max<int64_t>(1, pl.nv64)));
            sc.a32.resize(size_t(std::max<int64_t>(1, pl.nv32)));
            sc.xk32.assign(size_t(K + 2), 0);
            sc.t64.assign(size_t(N), 0);
        }
        std::vector<int64_t> blk(size_t(rb * N)), xrow(size_t(gather ? K : 0));
        const int64_t* rp[kBR];
        Run run[kBR];
        ConvPlanes planes;
        std::vector<int64_t> koff;
        if (rows && gather) {
            planes.init(*src.g, src.x);
            koff = planes.koffs();
        }
        RowCursor cur(src, r0);
        for (int64_t b0 = r0; b0 < r1; b0 += rb) {
            const int64_t b1 = std::min(r1, b0 + rb);
            if (rows) {
                if (gather) planes.build(cur.s, (b1 - 1) / (src.g->OH * src.g->OW));
                // blocks (N, kBR) each, cast in place (elementwise), then transposed into out
                for (int64_t i = b0; i < b1; i += kBR) {
                    const int nr = int(std::min<int64_t>(kBR, b1 - i));
                    int64_t* bdst = blk.data() + (i - b0) * N;
                    int br;
                    if (gather) {
                        int nrun = 0;
                        for (int r = 0; r < nr;) {
                            const int len = int(std::min<int64_t>(nr - r, src.g->OW - cur.ow));
                            run[nrun++] = Run{r, len, planes.run_base(cur.s, cur.oh, cur.ow)};
                            r += len;
                            cur.advance(len);
                        }
                        if (direct32) {
                            fill_conv_block_s32(planes, pl, koff.data(), K, run, nrun, nr, bs);
                            br = compute_block(pl, nr, bias, xlo, xhi, bs, bdst, forced, true);
                        } else {
                            fill_conv_block(planes, koff.data(), K, run, nrun, nr, bs);
                            br = compute_block(pl, nr, bias, xlo, xhi, bs, bdst, forced);
                        }
                    } else {
                        for (int r = 0; r < nr; ++r, cur.next()) rp[r] = cur.ptr();
                        br = do_block(pl, rp, nr, src.off.data(), bias, xlo, xhi, bs, bdst, forced);
                    }
                    if (br >= 0) record(i + br);
                }
                const int64_t nb = (b1 - b0 + kBR - 1) / kBR, n_ = N;
                pc.finish(final_fn, fc, blk.data(), nb * kBR * n_, blk.data());
                for (int64_t i = b0; i < b1; i += kBR) {
                    const int nr = int(std::min<int64_t>(kBR, b1 - i));
                    const int64_t* bt = blk.data() + (i - b0) * n_;
                    int64_t* o = out + i * n_;
#if defined(FP_AVX512) || defined(FP_AVX2)
                    if (nr == kBR && n_ % kL64 == 0) {  // kL64 x kL64 tiles transposed in registers
                        for (int r0 = 0; r0 < kBR; r0 += kL64)
                            for (int64_t j0 = 0; j0 < n_; j0 += kL64) {
                                VI a[kL64];
                                for (int u = 0; u < kL64; ++u) a[u] = load_vi(bt + (j0 + u) * kBR + r0);
                                transpose_vi(a);
                                for (int u = 0; u < kL64; ++u) vstore(o + (r0 + u) * n_ + j0, a[u]);
                            }
                        continue;
                    }
#endif
                    for (int r = 0; r < nr; ++r, o += n_)
                        for (int64_t j = 0; j < n_; ++j) o[j] = bt[j * kBR + r];
                }
                continue;
            } else {
                for (int64_t i = b0; i < b1; ++i, cur.next()) {
                    const int64_t* xr = cur.ptr();
                    if (gather) {
                        for (int64_t k = 0; k < K; ++k) xrow[size_t(k)] = xr[src.off[size_t(k)]];
                        xr = xrow.data();
                    }
                    if (!do_row(pl, xr, w, bias, xlo, xhi, sc, blk.data() + (i - b0) * N)) record(i);
                }
            }
            pc.finish(final_fn, fc, blk.data(), (b1 - b0) * N, out + b0 * N);
        }
    });
    if (bad.load() >= 0) {
        const int64_t i = bad.load();
        RowCursor c(src, i);
        const int64_t* xr = c.ptr();
        for (int64_t k = 0; k < K; ++k) {
            const int64_t v = xr[src.off[size_t(k)]];
            if (v >= xlo && v <= xhi) continue;
            if (src.g) {
                const ConvGeom& g = *src.g;
                const int64_t ch = k % g.C, dw = (k / g.C) % g.kw, dh = k / (g.C * g.kw);
                const int64_t at[4] = {c.s, c.oh * g.sh + dh, c.ow * g.sw + dw, ch};
                throw_x_outside(true, at, v, xlo, xhi);
            }
            const int64_t at[2] = {i, k};
            throw_x_outside(false, at, v, xlo, xhi);
        }
        throw_x_outside(src.g != nullptr, nullptr, 0, xlo, xhi);
    }
}

void dense_accum_impl(const int64_t* x, const SourceFormat& fx, const int64_t* w, const SourceFormat& fw, int64_t M,
                      int64_t K, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                      int64_t* out, const AccumPost* post) {
    RowSrc src;
    src.x = x;
    src.K = K;
    src.off.resize(size_t(K));
    for (int64_t k = 0; k < K; ++k) src.off[size_t(k)] = k;
    accum_run(src, M, fx, w, fw, N, acc, bias, res, out, post);
}

void conv_accum_impl(const int64_t* x, const ConvGeom& g, const SourceFormat& fx, const int64_t* w,
                     const SourceFormat& fw, int64_t N, const Format& acc, const int64_t* bias, const Format& res,
                     int64_t* out, const AccumPost* post) {
    RowSrc src;
    src.x = x;
    src.K = g.kh * g.kw * g.C;
    src.g = &g;
    src.off.reserve(size_t(src.K));
    for (int64_t dh = 0; dh < g.kh; ++dh)
        for (int64_t dw = 0; dw < g.kw; ++dw)
            for (int64_t c = 0; c < g.C; ++c) src.off.push_back((dh * g.Wp + dw) * g.C + c);
    accum_run(src, g.S * g.OH * g.OW, fx, w, fw, N, acc, bias, res, out, post);
}

}  // namespace

}  // namespace FP_ISA_NS

const AccumTable& FP_TABLE_FN() {
    static const AccumTable table{&FP_ISA_NS::dense_accum_impl, &FP_ISA_NS::conv_accum_impl};
    return table;
}

}  // namespace fixedpoint
