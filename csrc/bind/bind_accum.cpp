// Bindings for dense_accum (the hls4ml Dense emulation: accumulator-accurate matmul fused
// with the cast into the result format). Validates every argument, releases the GIL, calls core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "accum.hpp"
#include "common.hpp"

namespace py = pybind11;
using namespace fixedpoint;

namespace {

constexpr const char* kApi = "dense_accum";

Format format_arg(const char* what, int w, int i, bool s, int q, int o, int n) {
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
void check_raws(const char* what, const int64_t* v, int64_t n, int w, bool s, int64_t ncols) {
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

py::array_t<int64_t> dense_accum_py(const py::array_t<int64_t, py::array::c_style>& x, int xw, int xi, bool xs,
                                    const py::array_t<int64_t, py::array::c_style>& w, int ww, int wi, bool ws,
                                    int acc_w, int acc_i, bool acc_s, int acc_q, int acc_o, int acc_n,
                                    const py::object& bias, int res_w, int res_i, bool res_s, int res_q, int res_o,
                                    int res_n) {
    format_arg("x", xw, xi, xs, 0, 0, 0);
    format_arg("w", ww, wi, ws, 0, 0, 0);
    const Format acc = format_arg("accum", acc_w, acc_i, acc_s, acc_q, acc_o, acc_n);
    const Format res = format_arg("result", res_w, res_i, res_s, res_q, res_o, res_n);
    if (acc.q == QMode::STOCH || res.q == QMode::STOCH)
        throw py::value_error(std::string(kApi) + ": STOCH rounding is not supported (accum q=" +
                              qmode_name(acc.q) + ", result q=" + qmode_name(res.q) +
                              "); use matmul_accum and cast");
    if (xw + ww > kDenseAccumMaxProductWidth)
        throw py::value_error(std::string(kApi) + ": product width xw + ww = " + std::to_string(xw) + " + " +
                              std::to_string(ww) + " exceeds " + std::to_string(kDenseAccumMaxProductWidth) +
                              " bits");
    if (x.ndim() != 2 || w.ndim() != 2)
        throw py::value_error(std::string(kApi) + ": x must be (M, K) and w (K, N), got " +
                              std::to_string(x.ndim()) + "-d and " + std::to_string(w.ndim()) + "-d arrays");
    if (x.shape(1) != w.shape(0))
        throw py::value_error(std::string(kApi) + ": x is (" + std::to_string(x.shape(0)) + ", " +
                              std::to_string(x.shape(1)) + ") but w is (" + std::to_string(w.shape(0)) + ", " +
                              std::to_string(w.shape(1)) + "): x.shape[1] must equal w.shape[0]");
    const int64_t M = x.shape(0), K = x.shape(1), N = w.shape(1);
    py::array_t<int64_t, py::array::c_style> bias_arr;
    const int64_t* biasp = nullptr;
    if (!bias.is_none()) {
        bias_arr = bias.cast<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>();
        if (bias_arr.ndim() != 1 || bias_arr.shape(0) != N)
            throw py::value_error(std::string(kApi) + ": bias_acc must have shape (N,) = (" + std::to_string(N) +
                                  ",), got " + std::to_string(bias_arr.ndim()) + "-d array of " +
                                  std::to_string(bias_arr.size()) + " values");
        biasp = bias_arr.data();
        check_raws("bias_acc", biasp, N, acc.w, acc.is_signed, 0);
    }
    check_raws("w", w.data(), K * N, ww, ws, N);
    // x's raws are range-checked inside the kernel's single pass over x (ValueError after it).
    py::array_t<int64_t> out({py::ssize_t(M), py::ssize_t(N)});
    const SourceFormat fx{xw, xi, xs}, fw{ww, wi, ws};
    const int64_t* xp = x.data();
    const int64_t* wp = w.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        dense_accum(xp, fx, wp, fw, M, K, N, acc, biasp, res, dst);
    }
    return out;
}

}  // namespace

void bind_accum(py::module_& m) {
    m.def("dense_accum", &dense_accum_py, py::arg("x"), py::arg("xw"), py::arg("xi"), py::arg("xsigned"),
          py::arg("w"), py::arg("ww"), py::arg("wi"), py::arg("wsigned"), py::arg("acc_w"), py::arg("acc_i"),
          py::arg("acc_signed"), py::arg("acc_q"), py::arg("acc_o"), py::arg("acc_n"), py::arg("bias_acc"),
          py::arg("res_w"), py::arg("res_i"), py::arg("res_signed"), py::arg("res_q"), py::arg("res_o"),
          py::arg("res_n"),
          "hls4ml Dense emulation: for each (i, j), acc = bias_acc[j] (accumulator raws, or 0 when None);\n"
          "acc = (accum)(acc + (accum)(x[i,k] * w[k,j])) for k in order; out[i,j] = (result)(acc).\n"
          "Bit for bit cast(matmul_accum(...)). x (M,K), w (K,N) int64 raws; returns (M,N) result raws.\n"
          "Raises ValueError for bad shapes/formats, raws outside their formats, or STOCH rounding.");
}
