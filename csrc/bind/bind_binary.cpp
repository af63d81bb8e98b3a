// Bindings for binary (+-1) and ternary kernels on packed sign bits. Converts and validates,
// releases the GIL, calls the core (csrc/core/binary.hpp). Packing itself is NumPy (Python).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "binary.hpp"

namespace py = pybind11;
using namespace fixedpoint;

namespace {

using Words = py::array_t<uint64_t, py::array::c_style>;

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// Shape (rows, words) and zero padding bits (bits K.. of each row's last word): the kernels
// count them, so a set padding bit would silently change the dot products.
void require_words(const char* api, const char* what, const Words& a, int64_t words, int64_t K) {
    if (a.ndim() != 2 || a.shape(1) != words)
        throw py::value_error(std::string(api) + ": " + what + " must have shape (rows, " + std::to_string(words) +
                              ") words, got " + shape_str(a));
    if (K % 64 == 0) return;
    const uint64_t pad = ~((uint64_t(1) << (K % 64)) - 1);
    const uint64_t* p = a.data();
    for (py::ssize_t r = 0; r < a.shape(0); ++r)
        if (p[r * words + words - 1] & pad)
            throw py::value_error(std::string(api) + ": " + what + " row " + std::to_string(r) +
                                  " has padding bits set (bits " + std::to_string(K) + ".." +
                                  std::to_string(words * 64 - 1) + " must be 0)");
}

int64_t words_for(const char* api, int64_t K) {
    if (K < 1 || K >= (int64_t(1) << 31))
        throw py::value_error(std::string(api) + ": K must be in [1, 2**31), got " + std::to_string(K));
    return (K + 63) / 64;
}

py::array_t<int32_t> xnor_gemm_py(const Words& a, const Words& b, int64_t K) {
    const char* api = "xnor_gemm";
    const int64_t words = words_for(api, K);
    require_words(api, "a", a, words, K);
    require_words(api, "b", b, words, K);
    const int64_t M = a.shape(0), N = b.shape(0);
    py::array_t<int32_t> out({py::ssize_t(M), py::ssize_t(N)});
    const uint64_t *ap = a.data(), *bp = b.data();
    int32_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        binary_kernels().xnor_gemm(ap, bp, M, N, words, K, dst);
    }
    return out;
}

py::array_t<int32_t> ternary_binary_gemm_py(const Words& tm, const Words& tp, const Words& b, int64_t K) {
    const char* api = "ternary_binary_gemm";
    const int64_t words = words_for(api, K);
    require_words(api, "mask", tm, words, K);
    require_words(api, "sign", tp, words, K);
    require_words(api, "b", b, words, K);
    if (tm.shape(0) != tp.shape(0))
        throw py::value_error(std::string(api) + ": mask and sign planes differ: " + shape_str(tm) + " vs " +
                              shape_str(tp));
    const int64_t M = tm.shape(0), N = b.shape(0);
    py::array_t<int32_t> out({py::ssize_t(M), py::ssize_t(N)});
    const uint64_t *mp = tm.data(), *pp = tp.data(), *bp = b.data();
    int32_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        binary_kernels().ternary_binary_gemm(mp, pp, bp, M, N, words, dst);
    }
    return out;
}

py::array_t<int64_t> binary_weight_gemm_py(const py::array_t<int64_t, py::array::c_style>& x, const Words& w) {
    const char* api = "binary_weight_gemm";
    if (x.ndim() != 2) throw py::value_error(std::string(api) + ": x must be (M, K), got " + shape_str(x));
    const int64_t M = x.shape(0), K = x.shape(1);
    const int64_t words = words_for(api, K);
    require_words(api, "w", w, words, K);
    const int64_t N = w.shape(0);
    py::array_t<int64_t> out({py::ssize_t(M), py::ssize_t(N)});
    const int64_t* xp = x.data();
    const uint64_t* wp = w.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        binary_kernels().binary_weight_gemm(xp, wp, M, N, K, words, dst);
    }
    return out;
}

}  // namespace

void bind_binary(py::module_& m) {
    m.def("xnor_gemm", &xnor_gemm_py, py::arg("a"), py::arg("b"), py::arg("k"),
          "Exact +-1 dot products of packed rows: out[m, n] = k - 2 * popcount(a[m] ^ b[n]) (int32).\n"
          "a (M, words), b (N, words) uint64, words = ceil(k / 64), padding bits 0.");
    m.def("ternary_binary_gemm", &ternary_binary_gemm_py, py::arg("mask"), py::arg("sign"), py::arg("b"),
          py::arg("k"),
          "Exact ternary x binary dot products: out[m, n] = popcount(mask[m]) - 2 * popcount(mask[m] &\n"
          "(sign[m] ^ b[n])) (int32). All operands (rows, ceil(k / 64)) uint64 with padding bits 0.");
    m.def("binary_weight_gemm", &binary_weight_gemm_py, py::arg("x"), py::arg("w"),
          "Exact x (M, K) int64 raws times +-1 weights w (N, ceil(K / 64)) packed along K:\n"
          "out[m, n] = sum_k (bit ? x[m, k] : -x[m, k]) (int64; needs |x| < 2**32).");
}
