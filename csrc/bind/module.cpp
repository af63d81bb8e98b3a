// The _core extension: one bind_<concept>.cpp per concept.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_accum(py::module_& m);
void bind_arith(py::module_& m);
void bind_binary(py::module_& m);
void bind_gemm(py::module_& m);
void bind_pool(py::module_& m);
void bind_quantize(py::module_& m);
void bind_runtime(py::module_& m);
void bind_wide(py::module_& m);

PYBIND11_MODULE(_core, m) {
    m.doc() = "fixedpoint C++ core: exact ap_fixed quantization and arithmetic kernels (native w <= 64, multi-limb w <= 1024)";
    bind_quantize(m);
    bind_arith(m);
    bind_accum(m);
    bind_binary(m);
    bind_gemm(m);
    bind_pool(m);
    bind_runtime(m);
    bind_wide(m);
}
