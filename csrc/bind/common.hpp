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

inline py::array_t<int64_t> new_raw_like(const py::array& a) {
    std::vector<py::ssize_t> shape(a.shape(), a.shape() + a.ndim());
    return py::array_t<int64_t>(shape);
}

}  // namespace fpbind
