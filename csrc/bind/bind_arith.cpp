// Bindings for exact arithmetic: elementwise ops (optionally fused with a cast) and
// accumulator-accurate matmul. Converts and validates, releases the GIL, calls core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "arith.hpp"
#include "common.hpp"

namespace py = pybind11;
using namespace fixedpoint;
using fpbind::make_format;

namespace {

std::vector<int64_t> element_strides(const py::array& x, const char* api) {
    std::vector<int64_t> s(size_t(x.ndim()));
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
        if (x.strides(d) % py::ssize_t(sizeof(int64_t)) != 0)
            throw py::value_error(std::string(api) + ": operand strides must be multiples of 8 bytes");
        s[size_t(d)] = int64_t(x.strides(d) / py::ssize_t(sizeof(int64_t)));
    }
    return s;
}

// a and b: int64 arrays already broadcast to one shape (strides may be 0).
// out_fmt: None -> natural result (returns (lo, hi, first_zero)); else (q, o, n, w, i, signed)
// -> returns (raw, None, first_zero).
py::tuple elementwise(int op, const py::array_t<int64_t>& a, int w1, int i1, bool s1, const py::array_t<int64_t>& b,
                      int w2, int i2, bool s2, const py::object& out_fmt, uint64_t seed, bool want_hi) {
    const char* api = "elementwise";
    if (op < 0 || op > int(ArithOp::cmp))
        throw py::value_error("elementwise: unknown op code " + std::to_string(op));
    make_format(api, w1, i1, s1, 0, 0, 0);
    make_format(api, w2, i2, s2, 0, 0, 0);
    if (a.ndim() != b.ndim()) throw py::value_error("elementwise: operands must be broadcast to one shape first");
    for (py::ssize_t d = 0; d < a.ndim(); ++d)
        if (a.shape(d) != b.shape(d)) throw py::value_error("elementwise: operands must be broadcast to one shape first");
    const ArithOp aop = ArithOp(op);
    const SourceFormat fa{w1, i1, s1}, fb{w2, i2, s2};
    const NaturalFormat nf = natural_format(aop, fa, fb);
    if (nf.w > kArithMaxNaturalWidth || (aop == ArithOp::div && nf.div_w > kArithMaxNaturalWidth))
        throw py::value_error("elementwise: natural result width " + std::to_string(nf.w) + " exceeds " +
                              std::to_string(kArithMaxNaturalWidth) + " bits (use the wide path)");
    Format fm{};
    const Format* fmp = nullptr;
    if (!out_fmt.is_none()) {
        auto t = out_fmt.cast<py::tuple>();
        fm = make_format(api, t[0].cast<int>(), t[1].cast<int>(), t[2].cast<bool>(), t[3].cast<int>(),
                         t[4].cast<int>(), t[5].cast<int>());
        fmp = &fm;
    }
    std::vector<int64_t> shape(size_t(a.ndim()));
    for (py::ssize_t d = 0; d < a.ndim(); ++d) shape[size_t(d)] = int64_t(a.shape(d));
    const auto sa = element_strides(a, api), sb = element_strides(b, api);
    fpbind::check_raws(api, "a", a.data(), shape, sa, w1, i1, s1);
    fpbind::check_raws(api, "b", b.data(), shape, sb, w2, i2, s2);
    std::vector<py::ssize_t> pshape(shape.begin(), shape.end());
    py::array_t<int64_t> out(pshape);
    py::object hi = py::none();
    int64_t* hip = nullptr;
    if (fmp == nullptr && want_hi && aop != ArithOp::cmp) {
        py::array_t<int64_t> h(pshape);
        hip = h.mutable_data();
        hi = h;
    }
    const Operand oa{a.data(), sa.data(), fa}, ob{b.data(), sb.data(), fb};
    int64_t* dst = out.mutable_data();
    int64_t first_zero;
    {
        py::gil_scoped_release release;
        first_zero = arith_elementwise(aop, oa, ob, int(shape.size()), shape.data(), fmp, seed, dst, hip);
    }
    return py::make_tuple(out, hi, first_zero);
}

py::array_t<int64_t> matmul_accum_py(const py::array_t<int64_t, py::array::c_style>& a, int w1, int i1, bool s1,
                                     const py::array_t<int64_t, py::array::c_style>& b, int w2, int i2, bool s2,
                                     int w, int i, bool s, int q, int o, int n, const py::object& bias,
                                     uint64_t seed, uint64_t counter_base) {
    const char* api = "matmul_accum";
    make_format(api, w1, i1, s1, 0, 0, 0);
    make_format(api, w2, i2, s2, 0, 0, 0);
    const Format acc = make_format(api, w, i, s, q, o, n);
    fpbind::check_matmul_shapes(api, a, b);
    if (w1 + w2 > kArithMaxNaturalWidth)
        throw py::value_error("matmul_accum: product width " + std::to_string(w1 + w2) + " exceeds " +
                              std::to_string(kArithMaxNaturalWidth) + " bits");
    const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
    py::array_t<int64_t, py::array::c_style> bias_arr;
    const int64_t* biasp = nullptr;
    if (!bias.is_none()) {
        bias_arr = bias.cast<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>();
        if (bias_arr.ndim() != 1 || bias_arr.shape(0) != N)
            throw py::value_error("matmul_accum: bias must have shape (N,) = (" + std::to_string(N) + ",), got " +
                                  fpbind::shape_str(bias_arr));
        biasp = bias_arr.data();
        fpbind::check_raws(api, "bias", bias_arr, w, i, s);
    }
    fpbind::check_raws(api, "a", a, w1, i1, s1);
    fpbind::check_raws(api, "b", b, w2, i2, s2);
    py::array_t<int64_t> out({py::ssize_t(M), py::ssize_t(N)});
    const SourceFormat fa{w1, i1, s1}, fb{w2, i2, s2};
    const int64_t* ap = a.data();
    const int64_t* bp = b.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        matmul_accum(ap, fa, bp, fb, M, K, N, acc, biasp, seed, counter_base, dst);
    }
    return out;
}

}  // namespace

void bind_arith(py::module_& m) {
    // The operation codes of elementwise() and natural_format(), from the core's enum (no mirrors).
    py::dict ops;
    ops["add"] = int(ArithOp::add);
    ops["sub"] = int(ArithOp::sub);
    ops["mul"] = int(ArithOp::mul);
    ops["div"] = int(ArithOp::div);
    ops["cmp"] = int(ArithOp::cmp);
    m.attr("ARITH_OPS") = ops;
    m.attr("ARITH_MAX_NATURAL_WIDTH") = kArithMaxNaturalWidth;
    m.def(
        "natural_format",
        [](int op, int w1, int i1, bool s1, int w2, int i2, bool s2) {
            if (op < int(ArithOp::add) || op > int(ArithOp::cmp))
                throw py::value_error("natural_format: op must be one of ARITH_OPS' codes 0..4, got " +
                                      std::to_string(op));
            const NaturalFormat nf = natural_format(ArithOp(op), SourceFormat{w1, i1, s1}, SourceFormat{w2, i2, s2});
            return py::make_tuple(nf.w, nf.i, nf.is_signed, nf.div_w);
        },
        py::arg("op"), py::arg("w1"), py::arg("i1"), py::arg("signed1"), py::arg("w2"), py::arg("i2"),
        py::arg("signed2"),
        "The natural result format (w, i, signed, div_w) of a op b by ap_fixed's rules (cmp uses sub's;\n"
        "div_w: the internal width of a division, 0 for the other operations).");
    m.def("elementwise", &elementwise, py::arg("op"), py::arg("a"), py::arg("w1"), py::arg("i1"), py::arg("signed1"),
          py::arg("b"), py::arg("w2"), py::arg("i2"), py::arg("signed2"), py::arg("out_fmt"), py::arg("seed"),
          py::arg("want_hi"),
          "Exact a op b (op: 0 add, 1 sub, 2 mul, 3 div, 4 cmp) on int64 raws broadcast to one shape.\n"
          "out_fmt None: the natural result as (low words, high words or None, first zero divisor);\n"
          "cmp gives the sign of a - b. out_fmt (w, i, signed, q, o, n): the result cast into it.");
    m.def("matmul_accum", &matmul_accum_py, py::arg("a"), py::arg("w1"), py::arg("i1"), py::arg("signed1"),
          py::arg("b"), py::arg("w2"), py::arg("i2"), py::arg("signed2"), py::arg("w"), py::arg("i"),
          py::arg("signed"), py::arg("q"), py::arg("o"), py::arg("n"), py::arg("bias"), py::arg("seed"),
          py::arg("counter_base"),
          "Accumulator-accurate (M,K)@(K,N): each product and each running sum cast into the accumulator\n"
          "format (w, i, signed, q, o, n) in index order; bias (N,) holds accumulator raws or None.");
}
