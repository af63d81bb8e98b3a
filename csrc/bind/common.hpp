// Shared binding helpers: argument validation and format construction.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "format.hpp"
#include "kernels.hpp"

namespace fpbind {

namespace py = pybind11;

inline fixedpoint::Format make_format(const char* api, int w, int i, bool s, int q, int o, int n) {
    fixedpoint::Format fm{w, i, s, fixedpoint::QMode(q), fixedpoint::OMode(o), n};
    fm.validate();
    if (w > fixedpoint::kNativeMaxWidth)
        throw py::value_error(std::string(api) + ": the native kernels take w <= 64, got w=" + std::to_string(w));
    return fm;
}

inline void require_contiguous(const char* api, const py::array& a) {
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(api) + ": input must be C-contiguous (the Python layer copies it)");
}

// The kernels read elements as the machine stores them: an array of the other byte order
// ('>f8' data from a big-endian machine) would be misread, so it is refused (the Python
// layer converts such arrays value for value before calling the extension).
inline void require_native_order(const char* api, const py::array& a) {
    if (!py::cast<bool>(a.dtype().attr("isnative")))
        throw py::value_error(std::string(api) + ": input must be in native byte order, got dtype " +
                              std::string(py::str(a.dtype().attr("str"))) +
                              " (convert it with a.astype(a.dtype.newbyteorder('=')))");
}

// A NumPy-style shape for messages: "(3, 4)", "(5,)", "()".
inline std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// The (M, K) @ (K, N) shape check of the matrix products, with the shapes it got in the message.
inline void check_matmul_shapes(const char* api, const py::array& a, const py::array& b) {
    if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(0))
        throw py::value_error(std::string(api) + ": expected (M, K) and (K, N) operands, got " + shape_str(a) +
                              " and " + shape_str(b));
}

inline std::string format_name(int w, int i, bool s) {
    return std::string(s ? "ap_fixed<" : "ap_ufixed<") + std::to_string(w) + "," + std::to_string(i) + ">";
}

[[noreturn]] inline void raw_outside(const char* api, const char* what, const std::vector<int64_t>& index, int64_t v,
                                     int w, int i, bool s) {
    std::string where;
    for (size_t d = 0; d < index.size(); ++d) where += (d ? ", " : "") + std::to_string(index[d]);
    throw py::value_error(std::string(api) + ": " + what + "[" + where + "] = " + std::to_string(v) +
                          " is outside the raw range [" + std::to_string(int64_t(fixedpoint::raw_min(w, s))) + ", " +
                          std::to_string(int64_t(fixedpoint::raw_max(w, s))) + "] of its format " +
                          format_name(w, i, s) + " (" + std::to_string(w) + "-bit " + (s ? "signed" : "unsigned") +
                          ")");
}

// The raws an array of a w-bit format may hold: every one within [raw_min, raw_max] (a kernel
// given an out-of-range raw computes a wrong value, so a binding never trusts its caller).
// a: shape and element strides (0 for a broadcast dimension, whose values are checked once).
// One vectorized pass per row; the error names the binding, the operand, the format and the
// first offender with its index.
inline void check_raws(const char* api, const char* what, const int64_t* a, const std::vector<int64_t>& shape,
                       const std::vector<int64_t>& strides, int w, int i, bool s) {
    if (w >= 64) return;  // a 64-bit format spans every int64 (uint64 bit patterns when unsigned)
    const size_t nd = shape.size();
    for (int64_t e : shape)
        if (e == 0) return;
    std::vector<int64_t> idx(nd, 0);
    const int64_t inner = nd ? shape[nd - 1] : 1, st = nd ? strides[nd - 1] : 1;
    for (;;) {
        const int64_t* row = a;
        for (size_t d = 0; d + 1 < nd; ++d) row += idx[d] * strides[d];
        const int64_t k = fixedpoint::first_raw_outside(row, st == 0 ? 1 : inner, st, w, s);
        if (k >= 0) {
            if (nd) idx[nd - 1] = k;
            raw_outside(api, what, idx, row[k * st], w, i, s);
        }
        // next row: odometer over the outer dimensions, a broadcast (stride 0) one held at 0
        size_t d = nd ? nd - 1 : 0;
        for (;;) {
            if (d == 0) return;
            --d;
            if (strides[d] != 0 && ++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
}

// The error for flat element k of a C-contiguous array a (named by its n-d index).
[[noreturn]] inline void raw_outside_at(const char* api, const char* what, const py::array& a, int64_t k, int w,
                                        int i, bool s) {
    const int64_t v = static_cast<const int64_t*>(a.data())[k];
    std::vector<int64_t> idx(size_t(a.ndim()));
    for (py::ssize_t d = a.ndim() - 1; d >= 0; --d) {
        idx[size_t(d)] = k % int64_t(a.shape(d));
        k /= int64_t(a.shape(d));
    }
    raw_outside(api, what, idx, v, w, i, s);
}

// check_raws for a C-contiguous array: one pass over all of it.
inline void check_raws(const char* api, const char* what, const py::array& a, int w, int i, bool s) {
    const int64_t k = fixedpoint::first_raw_outside(static_cast<const int64_t*>(a.data()), int64_t(a.size()), 1, w, s);
    if (k >= 0) raw_outside_at(api, what, a, k, w, i, s);
}

inline py::array_t<int64_t> new_raw_like(const py::array& a) {
    std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
    return py::array_t<int64_t>(shape);
}

}  // namespace fpbind
