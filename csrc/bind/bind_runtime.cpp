// Bindings for the runtime: threads and instruction-set dispatch.
#include <pybind11/pybind11.h>

#include <string>

#include "kernels.hpp"
#include "threads.hpp"

namespace py = pybind11;
using namespace fixedpoint;

void bind_runtime(py::module_& m) {
    m.def("set_num_threads", &set_num_threads, py::arg("n"), "Set the number of threads kernels use (n >= 1).");
    m.def("get_num_threads", &get_num_threads, "The number of threads kernels use.");
    m.def("isa", []() { return std::string(isa_name(active_isa())); }, "The instruction set the kernels run with.");
    m.def("best_isa", []() { return std::string(isa_name(best_supported_isa())); },
          "The best instruction set this CPU supports.");
    m.def(
        "set_isa",
        [](const std::string& name) {
            for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
                if (name == isa_name(isa)) return set_active_isa(isa);
            throw py::value_error("set_isa: unknown instruction set '" + name +
                                  "' (allowed: 'scalar', 'avx2', 'avx512')");
        },
        py::arg("name"), "Force the kernels' instruction set (for tests): 'scalar', 'avx2' or 'avx512'.");
    m.def(
        "isa_supported",
        [](const std::string& name) {
            for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
                if (name == isa_name(isa)) return isa_supported(isa);
            return false;
        },
        py::arg("name"), "Whether this CPU supports the named instruction set.");
    m.attr("isa_emulated") = isa_emulated();
#ifdef __VERSION__
    m.attr("compiler") = std::string(__VERSION__);
#endif
}
