// Bindings for dense_accum (the hls4ml Dense emulation: accumulator-accurate matmul fused
// with the cast into the result format) and conv_accum (the same on a convolution's im2col
// windows, built inside the kernel). Validate every argument, release the GIL, call core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "accum.hpp"
#include "common.hpp"
#include "pool.hpp"

namespace py = pybind11;
using namespace fixedpoint;

namespace {

Format format_arg(const char* kApi, const char* what, int w, int i, bool s, int q, int o, int n) {
    if (w > kNativeMaxWidth)
        throw py::value_error(std::string(kApi) + ": " + what + " format: w must be <= " +
                              std::to_string(kNativeMaxWidth) + ", got w=" + std::to_string(w));
    try {
        return fpbind::make_format(kApi, w, i, s, q, o, n);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(std::string(kApi) + ": " + what + " format: " + e.what());
    }
}

// Every raw of v (n values) within the w-bit (signed or unsigned) range; names the first offender.
void check_raws(const char* kApi, const char* what, const int64_t* v, int64_t n, int w, bool s, int64_t ncols) {
    if (w >= 64) return;  // a 64-bit format spans every int64 (uint64 bit patterns when unsigned)
    const int64_t lo = int64_t(raw_min(w, s)), hi = int64_t(raw_max(w, s));
    for (int64_t k = 0; k < n; ++k)
        if (v[k] < lo || v[k] > hi) {
            std::string where = ncols > 0 ? "[" + std::to_string(k / ncols) + ", " + std::to_string(k % ncols) + "]"
                                          : "[" + std::to_string(k) + "]";
            throw py::value_error(std::string(kApi) + ": " + what + where + " = " + std::to_string(v[k]) +
                                  " is outside the raw range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                  "] of a " + std::to_string(w) + "-bit " + (s ? "signed" : "unsigned") + " format");
        }
}

// The fused post-op: relu, and post = None or (w, i, signed, q, o, n) of the activation's result_t.
AccumPost post_arg(const char* kApi, bool relu, const py::object& post) {
    AccumPost p;
    p.relu = relu;
    if (post.is_none()) return p;
    py::tuple t;
    try {
        t = post.cast<py::tuple>();
    } catch (const py::cast_error&) {
        throw py::value_error(std::string(kApi) + ": post must be None or a (w, i, signed, q, o, n) tuple");
    }
    if (t.size() != 6)
        throw py::value_error(std::string(kApi) + ": post must be a (w, i, signed, q, o, n) tuple, got " +
                              std::to_string(t.size()) + " values");
    p.cast2 = true;
    p.res2 = format_arg(kApi, "post", t[0].cast<int>(), t[1].cast<int>(), t[2].cast<bool>(), t[3].cast<int>(),
                        t[4].cast<int>(), t[5].cast<int>());
    if (p.res2.q == QMode::STOCH)
        throw py::value_error(std::string(kApi) + ": STOCH rounding is not supported (post q=" +
                              qmode_name(p.res2.q) + ")");
    return p;
}

struct Common {
    SourceFormat fx{}, fw{};
    Format acc{}, res{};
    py::array_t<int64_t, py::array::c_style> bias_arr;
    const int64_t* biasp = nullptr;
};

// The formats, STOCH, product width, bias and w checks shared by dense_accum and conv_accum.
Common check_common(const char* kApi, int xw, int xi, bool xs, const py::array_t<int64_t, py::array::c_style>& w,
                    int ww, int wi, bool ws, int acc_w, int acc_i, bool acc_s, int acc_q, int acc_o, int acc_n,
                    const py::object& bias, int res_w, int res_i, bool res_s, int res_q, int res_o, int res_n) {
    Common c;
    format_arg(kApi, "x", xw, xi, xs, 0, 0, 0);
    format_arg(kApi, "w", ww, wi, ws, 0, 0, 0);
    c.acc = format_arg(kApi, "accum", acc_w, acc_i, acc_s, acc_q, acc_o, acc_n);
    c.res = format_arg(kApi, "result", res_w, res_i, res_s, res_q, res_o, res_n);
    if (c.acc.q == QMode::STOCH || c.res.q == QMode::STOCH)
        throw py::value_error(std::string(kApi) + ": STOCH rounding is not supported (accum q=" +
                              qmode_name(c.acc.q) + ", result q=" + qmode_name(c.res.q) +
                              "); use matmul_accum and cast");
    if (xw + ww > kDenseAccumMaxProductWidth)
        throw py::value_error(std::string(kApi) + ": product width xw + ww = " + std::to_string(xw) + " + " +
                              std::to_string(ww) + " exceeds " + std::to_string(kDenseAccumMaxProductWidth) +
                              " bits");
    if (w.ndim() == 2) {
        const int64_t N = w.shape(1);
        if (!bias.is_none()) {
            c.bias_arr = bias.cast<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>();
            if (c.bias_arr.ndim() != 1 || c.bias_arr.shape(0) != N)
                throw py::value_error(std::string(kApi) + ": bias_acc must have shape (N,) = (" + std::to_string(N) +
                                      ",), got " + std::to_string(c.bias_arr.ndim()) + "-d array of " +
                                      std::to_string(c.bias_arr.size()) + " values");
            c.biasp = c.bias_arr.data();
            check_raws(kApi, "bias_acc", c.biasp, N, c.acc.w, c.acc.is_signed, 0);
        }
        check_raws(kApi, "w", w.data(), w.shape(0) * N, ww, ws, N);
    }
    c.fx = SourceFormat{xw, xi, xs};
    c.fw = SourceFormat{ww, wi, ws};
    return c;
}

py::array_t<int64_t> dense_accum_py(const py::array_t<int64_t, py::array::c_style>& x, int xw, int xi, bool xs,
                                    const py::array_t<int64_t, py::array::c_style>& w, int ww, int wi, bool ws,
                                    int acc_w, int acc_i, bool acc_s, int acc_q, int acc_o, int acc_n,
                                    const py::object& bias, int res_w, int res_i, bool res_s, int res_q, int res_o,
                                    int res_n, bool relu, const py::object& post) {
    const char* kApi = "dense_accum";
    if (x.ndim() != 2 || w.ndim() != 2)
        throw py::value_error(std::string(kApi) + ": x must be (M, K) and w (K, N), got " +
                              std::to_string(x.ndim()) + "-d and " + std::to_string(w.ndim()) + "-d arrays");
    if (x.shape(1) != w.shape(0))
        throw py::value_error(std::string(kApi) + ": x is (" + std::to_string(x.shape(0)) + ", " +
                              std::to_string(x.shape(1)) + ") but w is (" + std::to_string(w.shape(0)) + ", " +
                              std::to_string(w.shape(1)) + "): x.shape[1] must equal w.shape[0]");
    const Common c = check_common(kApi, xw, xi, xs, w, ww, wi, ws, acc_w, acc_i, acc_s, acc_q, acc_o, acc_n, bias,
                                  res_w, res_i, res_s, res_q, res_o, res_n);
    const AccumPost pa = post_arg(kApi, relu, post);
    const int64_t M = x.shape(0), K = x.shape(1), N = w.shape(1);
    // x's raws are range-checked inside the kernel's single pass over x (ValueError after it).
    py::array_t<int64_t> out({py::ssize_t(M), py::ssize_t(N)});
    const int64_t* xp = x.data();
    const int64_t* wp = w.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        dense_accum(xp, c.fx, wp, c.fw, M, K, N, c.acc, c.biasp, c.res, dst, &pa);
    }
    return out;
}

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

py::array_t<int64_t> conv_accum_py(const py::array_t<int64_t, py::array::c_style>& x, int64_t kh, int64_t kw,
                                   int64_t sh, int64_t sw, int64_t OH, int64_t OW, int xw, int xi, bool xs,
                                   const py::array_t<int64_t, py::array::c_style>& w, int ww, int wi, bool ws,
                                   int acc_w, int acc_i, bool acc_s, int acc_q, int acc_o, int acc_n,
                                   const py::object& bias, int res_w, int res_i, bool res_s, int res_q, int res_o,
                                   int res_n, const py::tuple& pad, bool relu, const py::object& post) {
    const char* kApi = "conv_accum";
    auto fail = [&](const std::string& m) { throw py::value_error(std::string(kApi) + ": " + m); };
    if (x.ndim() != 4)
        fail("x must be (S, H, W, C) (channels last; H = 1 for a 1-D conv), got a " + std::to_string(x.ndim()) +
             "-d array");
    if (pad.size() != 4) fail("pad must be (top, bottom, left, right), got " + std::to_string(pad.size()) + " values");
    const int64_t pt = pad[0].cast<int64_t>(), pb = pad[1].cast<int64_t>(), pl = pad[2].cast<int64_t>(),
                  pr = pad[3].cast<int64_t>();
    if (pt < 0 || pb < 0 || pl < 0 || pr < 0)
        fail("pad (top, bottom, left, right) = (" + std::to_string(pt) + ", " + std::to_string(pb) + ", " +
             std::to_string(pl) + ", " + std::to_string(pr) + ") must be >= 0");
    if (w.ndim() != 2) fail("w must be (kh*kw*C, N), got a " + std::to_string(w.ndim()) + "-d array");
    ConvGeom g;
    g.S = x.shape(0);
    g.Hp = x.shape(1) + pt + pb;
    g.Wp = x.shape(2) + pl + pr;
    g.C = x.shape(3);
    g.kh = kh;
    g.kw = kw;
    g.sh = sh;
    g.sw = sw;
    g.OH = OH;
    g.OW = OW;
    if (x.shape(1) < 1 || x.shape(2) < 1 || g.C < 1) fail("x is " + shape_str(x) + ": H, W and C must be >= 1");
    if (kh < 1 || kw < 1) fail("kernel kh, kw = " + std::to_string(kh) + ", " + std::to_string(kw) + " must be >= 1");
    if (sh < 1 || sw < 1) fail("strides sh, sw = " + std::to_string(sh) + ", " + std::to_string(sw) + " must be >= 1");
    if (kh > g.Hp || kw > g.Wp)
        fail("kernel " + std::to_string(kh) + "x" + std::to_string(kw) + " does not fit the padded input " +
             std::to_string(g.Hp) + "x" + std::to_string(g.Wp) + " (x is " + shape_str(x) + ")");
    const int64_t eoh = (g.Hp - kh) / sh + 1, eow = (g.Wp - kw) / sw + 1;
    if (OH != eoh || OW != eow)
        fail("OH, OW = " + std::to_string(OH) + ", " + std::to_string(OW) + " but the padded input " +
             std::to_string(g.Hp) + "x" + std::to_string(g.Wp) + " with kernel " + std::to_string(kh) + "x" +
             std::to_string(kw) + " and strides " + std::to_string(sh) + ", " + std::to_string(sw) +
             " gives OH = (Hp - kh) // sh + 1 = " + std::to_string(eoh) + ", OW = (Wp - kw) // sw + 1 = " +
             std::to_string(eow));
    const int64_t K = kh * kw * g.C;
    if (w.shape(0) != K)
        fail("w is " + shape_str(w) + " but the window length kh*kw*C = " + std::to_string(kh) + "*" +
             std::to_string(kw) + "*" + std::to_string(g.C) + " = " + std::to_string(K) + " must equal w.shape[0]");
    const Common c = check_common(kApi, xw, xi, xs, w, ww, wi, ws, acc_w, acc_i, acc_s, acc_q, acc_o, acc_n, bias,
                                  res_w, res_i, res_s, res_q, res_o, res_n);
    // x's raws: one pass over the (small) input, naming the offender by its 4-d index
    if (xw < 64) {
        const int64_t lo = int64_t(raw_min(xw, xs)), hi = int64_t(raw_max(xw, xs));
        const int64_t* xp = x.data();
        const int64_t n = int64_t(x.size());
        int64_t mn = lo, mx = hi;  // a vectorizable min/max pass first; the offender search only on failure
        raw_minmax(xp, n, &mn, &mx);
        for (int64_t t = 0; (mn < lo || mx > hi) && t < n; ++t)
            if (xp[t] < lo || xp[t] > hi) {
                const int64_t W0 = x.shape(2), H0 = x.shape(1);
                const int64_t ch = t % g.C, q = t / g.C, ww_ = q % W0, hh = (q / W0) % H0, s = q / (W0 * H0);
                fail("x[" + std::to_string(s) + ", " + std::to_string(hh) + ", " + std::to_string(ww_) + ", " +
                     std::to_string(ch) + "] = " + std::to_string(xp[t]) + " is outside the raw range [" +
                     std::to_string(lo) + ", " + std::to_string(hi) + "] of a " + std::to_string(xw) + "-bit " +
                     (xs ? "signed" : "unsigned") + " format");
            }
    }
    const AccumPost pa = post_arg(kApi, relu, post);
    const int64_t N = w.shape(1);
    py::array_t<int64_t> out({py::ssize_t(g.S), py::ssize_t(OH), py::ssize_t(OW), py::ssize_t(N)});
    const int64_t* xp = x.data();
    const int64_t* wp = w.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        std::vector<int64_t> padded;
        if (pt || pb || pl || pr) {  // the zero-padded rows and columns the windows read
            const int64_t Hc = (OH - 1) * sh + kh, Wc = (OW - 1) * sw + kw;
            padded.resize(size_t(g.S * Hc * Wc * g.C));
            pad_nhwc(xp, g.S, x.shape(1), x.shape(2), g.C, pt, pl, Hc, Wc, 0, padded.data());
            xp = padded.data();
            g.Hp = Hc;
            g.Wp = Wc;
        }
        conv_accum(xp, g, c.fx, wp, c.fw, N, c.acc, c.biasp, c.res, dst, &pa);
    }
    return out;
}

}  // namespace

void bind_accum(py::module_& m) {
    m.def("dense_accum", &dense_accum_py, py::arg("x"), py::arg("xw"), py::arg("xi"), py::arg("xsigned"),
          py::arg("w"), py::arg("ww"), py::arg("wi"), py::arg("wsigned"), py::arg("acc_w"), py::arg("acc_i"),
          py::arg("acc_signed"), py::arg("acc_q"), py::arg("acc_o"), py::arg("acc_n"), py::arg("bias_acc"),
          py::arg("res_w"), py::arg("res_i"), py::arg("res_signed"), py::arg("res_q"), py::arg("res_o"),
          py::arg("res_n"), py::kw_only(), py::arg("relu") = false, py::arg("post") = py::none(),
          "hls4ml Dense emulation: for each (i, j), acc = bias_acc[j] (accumulator raws, or 0 when None);\n"
          "acc = (accum)(acc + (accum)(x[i,k] * w[k,j])) for k in order; out[i,j] = (result)(acc).\n"
          "Fused activation: relu=True then takes max(out, 0) (signed result), post=(w, i, signed, q, o, n)\n"
          "then casts into that format (hls4ml's ReLU/linear layer after the Dense).\n"
          "Bit for bit cast(matmul_accum(...)). x (M,K), w (K,N) int64 raws; returns (M,N) result raws.\n"
          "Raises ValueError for bad shapes/formats, raws outside their formats, or STOCH rounding.");
    m.def("conv_accum", &conv_accum_py, py::arg("x"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
          py::arg("OH"), py::arg("OW"), py::arg("xw"), py::arg("xi"), py::arg("xsigned"), py::arg("w"), py::arg("ww"),
          py::arg("wi"), py::arg("wsigned"), py::arg("acc_w"), py::arg("acc_i"), py::arg("acc_signed"),
          py::arg("acc_q"), py::arg("acc_o"), py::arg("acc_n"), py::arg("bias_acc"), py::arg("res_w"),
          py::arg("res_i"), py::arg("res_signed"), py::arg("res_q"), py::arg("res_o"), py::arg("res_n"), py::kw_only(),
          py::arg("pad") = py::make_tuple(0, 0, 0, 0), py::arg("relu") = false, py::arg("post") = py::none(),
          "hls4ml Conv emulation: dense_accum on the im2col windows of x, built inside the kernel.\n"
          "x (S, H, W, C) int64 raws, channels last (H = 1 for a 1-D conv), zero-padded by\n"
          "pad = (top, bottom, left, right) inside the kernel: Hp = H + top + bottom, Wp likewise;\n"
          "relu / post: the fused activation, as in dense_accum;\n"
          "window row (s, oh, ow) holds x[s, oh*sh + dh, ow*sw + dw, c] at k = (dh*kw + dw)*C + c (k in\n"
          "that order, as hls4ml's Latency templates add); w (kh*kw*C, N); OH = (Hp - kh) // sh + 1,\n"
          "OW = (Wp - kw) // sw + 1. Returns (S, OH, OW, N) result raws, bit for bit\n"
          "dense_accum(im2col(x), ...). Raises ValueError for bad shapes/geometry/formats, raws outside\n"
          "their formats, or STOCH rounding.");
}
