// Bindings for the runtime: threads and instruction-set dispatch.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "isa.hpp"
#include "threads.hpp"

namespace py = pybind11;
using namespace fixedpoint;

namespace {

std::string known_list() {
    std::string s;
    for (const IsaInfo& i : kIsas) s += std::string(s.empty() ? "'" : ", '") + i.name + "'";
    return s;
}

}  // namespace

void bind_runtime(py::module_& m) {
    m.def("set_num_threads", &set_num_threads, py::arg("n"), "Set the number of threads kernels use (n >= 1).");
    m.def("get_num_threads", &get_num_threads, "The number of threads kernels use.");
    m.def("isa", []() { return std::string(isa_name(active_isa())); }, "The instruction set the kernels run with.");
    m.def("best_isa", []() { return std::string(isa_name(best_supported_isa())); },
          "The best instruction set this CPU supports.");
    m.def(
        "known_isas",
        []() {
            std::vector<std::string> names;
            for (const IsaInfo& i : kIsas) names.emplace_back(i.name);
            return names;
        },
        "The instruction sets the kernels are built for, best first.");
    m.def(
        "isa_features",
        [](const std::string& name) {
            Isa isa;
            if (!isa_from_name(name.c_str(), &isa))
                throw py::value_error("isa_features: unknown instruction set '" + name + "' (allowed: " +
                                      known_list() + ")");
            std::vector<std::string> f;
            for (const IsaInfo& i : kIsas)
                if (i.isa == isa)
                    for (const char* const* p = i.features; *p; ++p) f.emplace_back(*p);
            return f;
        },
        py::arg("name"), "The CPU features the named instruction set needs.");
    m.def(
        "set_isa",
        [](const std::string& name) {
            Isa isa;
            if (!isa_from_name(name.c_str(), &isa))
                throw py::value_error("set_isa: unknown instruction set '" + name + "' (allowed: " + known_list() +
                                      ")");
            set_active_isa(isa);
        },
        py::arg("name"), "Force the kernels' instruction set (for tests): one of known_isas().");
    m.def(
        "isa_supported",
        [](const std::string& name) {
            Isa isa;
            return isa_from_name(name.c_str(), &isa) && isa_supported(isa);
        },
        py::arg("name"), "Whether this CPU supports the named instruction set (False for an unknown name).");
    m.attr("isa_emulated") = isa_emulated();
#ifdef __VERSION__
    m.attr("compiler") = std::string(__VERSION__);
#endif
}
