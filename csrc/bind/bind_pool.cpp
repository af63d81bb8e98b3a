// Bindings for max_pool (hls4ml's io_parallel max pooling on stored integers, channels last).
// Validate every argument, release the GIL, call core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common.hpp"
#include "pool.hpp"

namespace py = pybind11;
using namespace fixedpoint;

namespace {

py::array_t<int64_t> max_pool_py(const py::array_t<int64_t, py::array::c_style>& x, int64_t ph, int64_t pw,
                                 int64_t sh, int64_t sw, const py::tuple& pad, int64_t fill, int xw, bool xsigned) {
    const char* kApi = "max_pool";
    auto fail = [&](const std::string& m) { throw py::value_error(std::string(kApi) + ": " + m); };
    if (x.ndim() != 4)
        fail("x must be (S, H, W, C) (channels last; H = 1 for 1-D pooling), got a " + std::to_string(x.ndim()) +
             "-d array");
    if (pad.size() != 4) fail("pad must be (top, bottom, left, right), got " + std::to_string(pad.size()) + " values");
    if (xw < 1 || xw > 64 || (xw == 64 && !xsigned))
        fail("x's format must have 1 <= w <= 64 and not be 64-bit unsigned (int64 comparison), got w=" +
             std::to_string(xw) + (xsigned ? " signed" : " unsigned"));
    PoolGeom g;
    g.S = x.shape(0);
    g.H = x.shape(1);
    g.W = x.shape(2);
    g.C = x.shape(3);
    g.ph = ph;
    g.pw = pw;
    g.sh = sh;
    g.sw = sw;
    g.pt = pad[0].cast<int64_t>();
    g.pb = pad[1].cast<int64_t>();
    g.pl = pad[2].cast<int64_t>();
    g.pr = pad[3].cast<int64_t>();
    if (g.H < 1 || g.W < 1 || g.C < 1) fail("x is (" + std::to_string(g.S) + ", " + std::to_string(g.H) + ", " +
                                            std::to_string(g.W) + ", " + std::to_string(g.C) +
                                            "): H, W and C must be >= 1");
    if (ph < 1 || pw < 1 || sh < 1 || sw < 1)
        fail("pool " + std::to_string(ph) + "x" + std::to_string(pw) + " and strides " + std::to_string(sh) + ", " +
             std::to_string(sw) + " must be >= 1");
    if (g.pt < 0 || g.pb < 0 || g.pl < 0 || g.pr < 0) fail("pad values must be >= 0");
    const int64_t Hp = g.H + g.pt + g.pb, Wp = g.W + g.pl + g.pr;
    if (ph > Hp || pw > Wp)
        fail("pool " + std::to_string(ph) + "x" + std::to_string(pw) + " does not fit the padded input " +
             std::to_string(Hp) + "x" + std::to_string(Wp));
    g.OH = (Hp - ph) / sh + 1;
    g.OW = (Wp - pw) / sw + 1;
    if (xw < 64) {
        const int64_t lo = int64_t(raw_min(xw, xsigned)), hi = int64_t(raw_max(xw, xsigned));
        if (fill < lo || fill > hi)
            fail("fill = " + std::to_string(fill) + " is outside the raw range [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "] of x's format");
        const int64_t* xp = x.data();
        const int64_t n = int64_t(x.size());
        int64_t mn = lo, mx = hi;  // a vectorizable min/max pass first; the offender search only on failure
        raw_minmax(xp, n, &mn, &mx);
        for (int64_t t = 0; (mn < lo || mx > hi) && t < n; ++t)
            if (xp[t] < lo || xp[t] > hi) {
                const int64_t c = t % g.C, q = t / g.C, w = q % g.W, h = (q / g.W) % g.H, s = q / (g.W * g.H);
                fail("x[" + std::to_string(s) + ", " + std::to_string(h) + ", " + std::to_string(w) + ", " +
                     std::to_string(c) + "] = " + std::to_string(xp[t]) + " is outside the raw range [" +
                     std::to_string(lo) + ", " + std::to_string(hi) + "] of a " + std::to_string(xw) + "-bit " +
                     (xsigned ? "signed" : "unsigned") + " format");
            }
    }
    py::array_t<int64_t> out({py::ssize_t(g.S), py::ssize_t(g.OH), py::ssize_t(g.OW), py::ssize_t(g.C)});
    const int64_t* xp = x.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        max_pool(xp, g, fill, dst);
    }
    return out;
}

}  // namespace

void bind_pool(py::module_& m) {
    m.def("max_pool", &max_pool_py, py::arg("x"), py::arg("ph"), py::arg("pw"), py::arg("sh"), py::arg("sw"),
          py::arg("pad"), py::arg("fill"), py::arg("xw"), py::arg("xsigned"),
          "hls4ml io_parallel max pooling on stored integers: x (S, H, W, C) int64 raws of a w-bit format,\n"
          "channels last (H = 1 for 1-D pooling), padded by pad = (top, bottom, left, right) positions\n"
          "holding fill; out[s, oh, ow, c] = max of x over the window rows oh*sh .. oh*sh + ph - 1 and\n"
          "columns ow*sw .. ow*sw + pw - 1 of the padded input; OH = (H + top + bottom - ph) // sh + 1,\n"
          "OW likewise. Returns (S, OH, OW, C) int64. Raises ValueError for bad shapes/geometry, a 64-bit\n"
          "unsigned format, or raws (or fill) outside the format's range.");
}
