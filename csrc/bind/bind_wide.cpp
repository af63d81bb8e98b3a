// Bindings for the wide (multi-limb, w <= 1024) kernels. Buffers are flat uint64 limb arrays
// (limbs_for(w) limbs per element, see wide.hpp). Validates sizes and formats, releases the
// GIL, calls the core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdio>
#include <string>

#include "accum_wide.hpp"
#include "wide.hpp"

namespace py = pybind11;
using namespace fixedpoint;

namespace {

using Limbs = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>;

// a * b for sizes and counts the caller gives: refused when negative or beyond int64 (a wrapped
// product would pass the buffer-size check and let the kernel write past the output).
int64_t checked_size(const char* api, const char* what, int64_t a, int64_t b) {
    int64_t r;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r))
        throw py::value_error(std::string(api) + ": " + what + " = " + std::to_string(a) + " * " +
                              std::to_string(b) + " is negative or overflows int64");
    return r;
}

Format wide_format(const char* api, int w, int i, bool s, int q, int o, int n) {
    Format fm{w, i, s, QMode(q), OMode(o), n};
    try {
        fm.validate();
    } catch (const std::invalid_argument& e) {
        throw py::value_error(std::string(api) + ": " + e.what());
    }
    return fm;
}

WideSource source(const char* api, const Limbs& buf, int64_t count, int64_t stride, int w, int i, bool s) {
    wide_format(api, w, i, s, 0, 0, 0);
    if (stride != 0 && stride != 1) throw py::value_error(std::string(api) + ": element stride must be 0 or 1");
    const int L = limbs_for(w);
    // stride 0: one element broadcast to all count (also to none: an empty result)
    const int64_t need = stride == 0 ? L : checked_size(api, "elements * limbs", count, L);
    if (count < 0) throw py::value_error(std::string(api) + ": negative element count " + std::to_string(count));
    if (buf.ndim() != 1 || int64_t(buf.size()) != need)
        throw py::value_error(std::string(api) + ": a " + std::to_string(w) + "-bit operand of " +
                              std::to_string(count) + " elements needs " + std::to_string(need) + " limbs, got " +
                              std::to_string(buf.size()));
    // Every element sign-extended (zero-extended when unsigned) from bit w-1 to 64*L bits: the
    // kernels read the top limb as it is, so other bits there would give a wrong value.
    const int top = w - 64 * (L - 1);  // bits of the format in the top limb
    const int64_t k =
        first_raw_outside(reinterpret_cast<const int64_t*>(buf.data()) + (L - 1), stride == 0 ? 1 : count, L, top, s);
    if (k >= 0) {
        char hex[19];
        std::snprintf(hex, sizeof hex, "0x%016llx", static_cast<unsigned long long>(buf.data()[k * L + L - 1]));
        throw py::value_error(std::string(api) + ": element " + std::to_string(k) + " is outside its format " +
                              (s ? "ap_fixed<" : "ap_ufixed<") + std::to_string(w) + "," + std::to_string(i) +
                              ">: its top limb " + hex + " is not " + (s ? "sign" : "zero") + "-extended from bit " +
                              std::to_string(w - 1) + " (an element's " + std::to_string(L) +
                              " limbs hold its raw " + (s ? "sign" : "zero") + "-extended to " +
                              std::to_string(64 * L) + " bits)");
    }
    return WideSource{buf.data(), stride, L, w, i, s};
}

Format out_format(const char* api, const py::tuple& t) {
    return wide_format(api, t[0].cast<int>(), t[1].cast<int>(), t[2].cast<bool>(), t[3].cast<int>(),
                       t[4].cast<int>(), t[5].cast<int>());
}

Limbs py_wide_cast(const Limbs& src, int64_t n, int w2, int i2, bool s2, const py::tuple& fmt, uint64_t seed) {
    const char* api = "wide_cast";
    const WideSource ws = source(api, src, n, 1, w2, i2, s2);
    const Format fm = out_format(api, fmt);
    Limbs out(py::ssize_t(checked_size(api, "elements * limbs", n, limbs_for(fm.w))));
    uint64_t* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        fixedpoint::wide_cast(ws, n, fm, seed, o);
    }
    return out;
}

Limbs py_wide_from_double(const py::array_t<double, py::array::c_style>& x, const py::tuple& fmt, uint64_t seed) {
    const Format fm = out_format("wide_from_double", fmt);
    const int64_t n = int64_t(x.size());
    Limbs out(py::ssize_t(checked_size("wide_from_double", "elements * limbs", n, limbs_for(fm.w))));
    const double* xp = x.data();
    uint64_t* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        fixedpoint::wide_from_double(xp, n, fm, seed, o);
    }
    return out;
}

py::array_t<double> py_wide_to_double(const Limbs& src, int64_t n, int w, int i, bool s) {
    const WideSource ws = source("wide_to_double", src, n, 1, w, i, s);
    py::array_t<double> out(n);
    double* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        fixedpoint::wide_to_double(ws, n, o);
    }
    return out;
}

py::object py_wide_elementwise(int op, const Limbs& a, int64_t sa, int wa, int ia, bool sga, const Limbs& b, int64_t sb,
                            int wb, int ib, bool sgb, int64_t n, int res_w, int res_i, bool res_s,
                            const py::object& fmt, uint64_t seed) {
    const char* api = "wide_elementwise";
    if (op < 0 || op > int(WideOp::cmp)) throw py::value_error("wide_elementwise: unknown op code " + std::to_string(op));
    const WideSource A = source(api, a, n, sa, wa, ia, sga), B = source(api, b, n, sb, wb, ib, sgb);
    wide_format(api, res_w, res_i, res_s, 0, 0, 0);
    Format fm{};
    const Format* fmp = nullptr;
    if (!fmt.is_none()) {
        fm = out_format(api, fmt.cast<py::tuple>());
        fmp = &fm;
    }
    const WideOp wop = WideOp(op);
    if (wop == WideOp::cmp) {
        py::array_t<int8_t> out8(n);
        int8_t* o8 = out8.mutable_data();
        {
            py::gil_scoped_release release;
            fixedpoint::wide_elementwise(wop, A, B, n, res_w, res_i, res_s, nullptr, 0, nullptr, o8);
        }
        return py::object(std::move(out8));
    }
    Limbs out(py::ssize_t(checked_size(api, "elements * limbs", n, limbs_for(fmp ? fm.w : res_w))));
    uint64_t* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        fixedpoint::wide_elementwise(wop, A, B, n, res_w, res_i, res_s, fmp, seed, o, nullptr);
    }
    return py::object(std::move(out));
}

Limbs py_wide_matmul(const Limbs& a, int wa, int ia, bool sga, const Limbs& b, int wb, int ib, bool sgb, int64_t M,
                  int64_t K, int64_t N, int res_w, bool res_s) {
    const char* api = "wide_matmul";
    if (M < 0 || K < 0 || N < 0) throw py::value_error("wide_matmul: negative dimension");
    const WideSource A = source(api, a, checked_size(api, "M * K", M, K), 1, wa, ia, sga),
                     B = source(api, b, checked_size(api, "K * N", K, N), 1, wb, ib, sgb);
    wide_format(api, res_w, 0, res_s, 0, 0, 0);
    Limbs out(py::ssize_t(checked_size(api, "M * N * limbs", checked_size(api, "M * N", M, N), limbs_for(res_w))));
    uint64_t* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        fixedpoint::wide_matmul(A, B, M, K, N, res_w, res_s, o);
    }
    return out;
}

Limbs py_wide_matmul_accum(const Limbs& a, int wa, int ia, bool sga, const Limbs& b, int wb, int ib, bool sgb,
                           int64_t M, int64_t K, int64_t N, const py::tuple& accum, const py::object& bias,
                           uint64_t seed, uint64_t counter_base) {
    const char* api = "wide_matmul_accum";
    if (M < 0 || K < 0 || N < 0)
        throw py::value_error("wide_matmul_accum: negative dimension M, K, N = " + std::to_string(M) + ", " +
                              std::to_string(K) + ", " + std::to_string(N));
    if (accum.size() != 6)
        throw py::value_error("wide_matmul_accum: accum must be a (w, i, signed, q, o, n) tuple, got " +
                              std::to_string(accum.size()) + " values");
    // sizes, formats and every raw (its limbs extended from bit w-1) checked before the GIL goes
    const WideSource A = source(api, a, checked_size(api, "M * K", M, K), 1, wa, ia, sga),
                     B = source(api, b, checked_size(api, "K * N", K, N), 1, wb, ib, sgb);
    const Format acc = out_format(api, accum);
    const uint64_t* biasp = nullptr;
    Limbs bias_arr;
    if (!bias.is_none()) {
        bias_arr = bias.cast<Limbs>();
        biasp = source(api, bias_arr, N, 1, acc.w, acc.i, acc.is_signed).p;
    }
    Limbs out(py::ssize_t(checked_size(api, "M * N * limbs", checked_size(api, "M * N", M, N), limbs_for(acc.w))));
    uint64_t* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        fixedpoint::wide_matmul_accum(A, B, M, K, N, acc, biasp, seed, counter_base, o);
    }
    return out;
}

Limbs py_wide_sum_rows(const Limbs& a, int w, int i, bool s, int64_t rows, int64_t K, int res_w) {
    const char* api = "wide_sum_rows";
    if (rows < 0 || K < 0) throw py::value_error("wide_sum_rows: negative dimension");
    const WideSource A = source(api, a, checked_size(api, "rows * K", rows, K), 1, w, i, s);
    wide_format(api, res_w, 0, s, 0, 0, 0);
    Limbs out(py::ssize_t(checked_size(api, "rows * limbs", rows, limbs_for(res_w))));
    uint64_t* o = out.mutable_data();
    {
        py::gil_scoped_release release;
        fixedpoint::wide_sum_rows(A, rows, K, res_w, o);
    }
    return out;
}

}  // namespace

void bind_wide(py::module_& m) {
    py::dict ops;  // the operation codes of wide_elementwise(), from the core's enum (no mirrors)
    ops["add"] = int(WideOp::add);
    ops["sub"] = int(WideOp::sub);
    ops["mul"] = int(WideOp::mul);
    ops["cmp"] = int(WideOp::cmp);
    m.attr("WIDE_OPS") = ops;
    m.def("wide_cast", &py_wide_cast, py::arg("src"), py::arg("n"), py::arg("w2"), py::arg("i2"), py::arg("s2"),
          py::arg("fmt"), py::arg("seed"), "Cast n elements (limb buffer) into fmt=(w,i,s,q,o,n): one exact rounding.");
    m.def("wide_from_double", &py_wide_from_double, py::arg("x"), py::arg("fmt"), py::arg("seed"),
          "Quantize float64 values into fmt=(w,i,s,q,o,n) as ap_fixed does; returns limbs.");
    m.def("wide_to_double", &py_wide_to_double, py::arg("src"), py::arg("n"), py::arg("w"), py::arg("i"), py::arg("s"),
          "Limb buffer -> float64 (exact when representable, else round-half-even).");
    m.def("wide_elementwise", &py_wide_elementwise, "Exact add/sub/mul/cmp on limb buffers, optionally fused with a cast.");
    m.def("wide_matmul", &py_wide_matmul, "Exact matmul of limb buffers into res_w-bit raws.");
    m.def("wide_matmul_accum", &py_wide_matmul_accum, py::arg("a"), py::arg("wa"), py::arg("ia"), py::arg("sa"),
          py::arg("b"), py::arg("wb"), py::arg("ib"), py::arg("sb"), py::arg("M"), py::arg("K"), py::arg("N"),
          py::arg("accum"), py::arg("bias"), py::arg("seed"), py::arg("counter_base"),
          "Accumulator-accurate (M,K)@(K,N) of limb buffers, every width: each product and each running sum\n"
          "cast into accum=(w,i,s,q,o,n) in index order (matmul_accum's semantics); bias: N accumulator\n"
          "elements (limbs) or None. Returns M*N accumulator elements (limbs).");
    m.def("wide_sum_rows", &py_wide_sum_rows, "Exact row sums of a limb buffer into res_w-bit raws.");
}
