// Bindings for quantization: floats/ints -> fixed, fixed -> fixed, fixed -> float64.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "common.hpp"

namespace py = pybind11;
using namespace fixedpoint;
using fpbind::make_format;

namespace {

// The element type of x, or false when the kernels cannot read it. Byte order counts: a
// '>f8' array has kind 'f' and item size 8 but is not DType::f64 (quantize names it).
bool dtype_of(const py::array& x, DType& dt) {
    if (!py::cast<bool>(x.dtype().attr("isnative"))) return false;
    const char kind = x.dtype().kind();
    const auto size = x.dtype().itemsize();
    if (kind == 'f' && size == 4) dt = DType::f32;
    else if (kind == 'f' && size == 8) dt = DType::f64;
    else if (kind == 'b' && size == 1) dt = DType::b1;
    else if (kind == 'i' && size == 1) dt = DType::i8;
    else if (kind == 'i' && size == 2) dt = DType::i16;
    else if (kind == 'i' && size == 4) dt = DType::i32;
    else if (kind == 'i' && size == 8) dt = DType::i64;
    else if (kind == 'u' && size == 1) dt = DType::u8;
    else if (kind == 'u' && size == 2) dt = DType::u16;
    else if (kind == 'u' && size == 4) dt = DType::u32;
    else if (kind == 'u' && size == 8) dt = DType::u64;
    else return false;
    return true;
}

py::tuple quantize(const py::array& x, int w, int i, bool s, int q, int o, int n, uint64_t seed, bool nan_ap) {
    const Format fm = make_format("quantize", w, i, s, q, o, n);
    fpbind::require_contiguous("quantize", x);
    fpbind::require_native_order("quantize", x);
    DType dt;
    if (!dtype_of(x, dt))
        throw py::type_error("quantize: unsupported input dtype " + std::string(py::str(x.dtype())) +
                             " (expected a float or integer dtype)");
    auto out = fpbind::new_raw_like(x);
    const void* src = x.data();
    int64_t* dst = out.mutable_data();
    const int64_t count = int64_t(x.size());
    int64_t first_nan = -1;
    {
        py::gil_scoped_release release;
        if (dt == DType::f32 || dt == DType::f64)
            first_nan = kernels().quantize_float(src, dt, count, fm, seed, nan_ap, dst);
        else
            kernels().quantize_int(src, dt, count, fm, seed, dst);
    }
    return py::make_tuple(out, first_nan);
}

py::array_t<int64_t> cast(const py::array_t<int64_t, py::array::c_style>& raw, int w2, int i2, bool s2, int w, int i,
                          bool s, int q, int o, int n, uint64_t seed) {
    const Format fm = make_format("cast", w, i, s, q, o, n);
    make_format("cast (source)", w2, i2, s2, 0, 0, 0);
    const SourceFormat sf{w2, i2, s2};
    auto out = fpbind::new_raw_like(raw);
    const int64_t* src = raw.data();
    int64_t* dst = out.mutable_data();
    const int64_t count = int64_t(raw.size());
    int64_t bad;
    {
        py::gil_scoped_release release;
        bad = kernels().cast_raw(src, count, sf, fm, seed, dst);  // checks the raws in its pass
    }
    if (bad >= 0) fpbind::raw_outside_at("cast", "raw", raw, bad, w2, i2, s2);
    return out;
}

py::array_t<double> to_double(const py::array_t<int64_t, py::array::c_style>& raw, int w, int i, bool s) {
    make_format("to_double", w, i, s, 0, 0, 0);
    const SourceFormat sf{w, i, s};
    std::vector<py::ssize_t> shape(raw.shape(), raw.shape() + raw.ndim());
    py::array_t<double> out(shape);
    const int64_t* src = raw.data();
    double* dst = out.mutable_data();
    const int64_t count = int64_t(raw.size());
    int64_t bad;
    {
        py::gil_scoped_release release;
        bad = kernels().to_double(src, count, sf, dst);  // checks the raws in its pass
    }
    if (bad >= 0) fpbind::raw_outside_at("to_double", "raw", raw, bad, w, i, s);
    return out;
}

}  // namespace

void bind_quantize(py::module_& m) {
    // The rounding and overflow modes' names in the order of their codes (format.hpp's enums):
    // fixedpoint._backend builds its mode codes from these (no mirrors).
    py::tuple qmodes(int(QMode::STOCH) + 1), omodes(int(OMode::WRAP_SM) + 1);
    for (int k = 0; k <= int(QMode::STOCH); ++k) qmodes[k] = qmode_name(QMode(k));
    for (int k = 0; k <= int(OMode::WRAP_SM); ++k) omodes[k] = omode_name(OMode(k));
    m.attr("Q_MODES") = qmodes;
    m.attr("O_MODES") = omodes;
    m.def("quantize", &quantize, py::arg("x"), py::arg("w"), py::arg("i"), py::arg("signed"), py::arg("q"),
          py::arg("o"), py::arg("n"), py::arg("seed"), py::arg("nan_ap"),
          "Quantize a C-contiguous float or integer array into ap_[u]fixed<w,i,q,o,n> (w <= 64).\n"
          "Returns (raw int64 array, index of the first NaN or -1). A NaN yields raw 0 unless nan_ap.");
    m.def("cast", &cast, py::arg("raw"), py::arg("w2"), py::arg("i2"), py::arg("signed2"), py::arg("w"),
          py::arg("i"), py::arg("signed"), py::arg("q"), py::arg("o"), py::arg("n"), py::arg("seed"),
          "Requantize raw values of ap_[u]fixed<w2,i2> into ap_[u]fixed<w,i,q,o,n> (both w <= 64).\n"
          "Raises ValueError naming the first raw outside ap_[u]fixed<w2,i2>.");
    m.def("to_double", &to_double, py::arg("raw"), py::arg("w"), py::arg("i"), py::arg("signed"),
          "Raw values of ap_[u]fixed<w,i> to float64: exact when representable, else round-half-even.\n"
          "Raises ValueError naming the first raw outside ap_[u]fixed<w,i>.");
}
