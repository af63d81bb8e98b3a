// fixedpoint core: spatial helpers of the hls4ml emulation on stored integers (channels last),
// Python-free. Max pooling (nnet_pooling.h's pooling2d_cl with Op_max: windows of ph x pw pixels
// every sh, sw pixels over the padded input, padded positions holding `fill`) and the padded,
// cropped copy a convolution reads.
#pragma once
#include <cstdint>

#include "isa.hpp"

namespace fixedpoint {

// A channels-last batch (S, H, W, C) with padding (top, bottom, left, right) around each image.
struct PoolGeom {
    int64_t S = 0, H = 1, W = 1, C = 1;
    int64_t ph = 1, pw = 1, sh = 1, sw = 1;
    int64_t pt = 0, pb = 0, pl = 0, pr = 0;
    int64_t OH = 1, OW = 1;
};

struct PoolTable {
    void (*max_pool)(const int64_t* x, const PoolGeom& g, int64_t fill, int64_t* out);
    void (*minmax)(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx);
};

FP_ISA_DECLARE_TABLES(PoolTable, pool_table)

// out[s, oh, ow, c] = max over dh < ph, dw < pw of xp[s, oh*sh + dh, ow*sw + dw, c], where xp is x
// padded with `fill` (signed int64 comparison: stored integers of a format of at most 63 bits, or a
// signed 64-bit one). Requires OH = (H + pt + pb - ph) / sh + 1 >= 1 and the same for OW, every
// size >= 1 except S >= 0, pads >= 0 (throws std::invalid_argument otherwise).
void max_pool(const int64_t* x, const PoolGeom& g, int64_t fill, int64_t* out);

// *mn, *mx = the minimum and maximum of x[0..n) (both 0 for n = 0 when they start at 0: they are
// in/out, min(*mn, x...) and max(*mx, x...)), vectorized: the range checks of the bindings.
void raw_minmax(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx);

// out (S, Hc, Wc, C) = rows 0..Hc-1 and columns 0..Wc-1 of x (S, H, W, C) padded with `fill`
// (pt rows on top, pl columns on the left; positions past H + pt or W + pl also hold `fill`).
// Requires every size >= 1 except S >= 0, pads >= 0.
void pad_nhwc(const int64_t* x, int64_t S, int64_t H, int64_t W, int64_t C, int64_t pt, int64_t pl, int64_t Hc,
              int64_t Wc, int64_t fill, int64_t* out);

}  // namespace fixedpoint
