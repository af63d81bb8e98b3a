// Bindings for exact dense integer GEMM: converts and validates, releases the GIL, calls core.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common.hpp"
#include "gemm.hpp"

namespace py = pybind11;
using namespace fixedpoint;

namespace {

using Raw = py::array_t<int64_t, py::array::c_style>;
using I128 = __int128;
using U128 = unsigned __int128;


// Every index in [0, limit): one vectorized min/max pass, then the first offender for the message.
void check_indices(const char* api, const char* what, const int64_t* ix, int64_t n, int64_t limit) {
    int64_t lo, hi;
    min_max_i64(ix, n, &lo, &hi);
    if (lo >= 0 && hi < limit) return;
    for (int64_t t = 0; t < n; ++t)
        if (ix[t] < 0 || ix[t] >= limit)
            throw py::value_error(std::string(api) + ": " + what + " " + std::to_string(ix[t]) + " outside [0, " +
                                  std::to_string(limit) + ")");
}

// The largest |value| of n int64s (2^63 for INT64_MIN), as an unsigned 128-bit number.
U128 abs_max(const int64_t* p, int64_t n) {
    if (n == 0) return 0;
    int64_t lo, hi;
    min_max_i64(p, n, &lo, &hi);
    const U128 a = U128(-I128(lo)), b = U128(I128(hi));
    return std::max(lo < 0 ? a : U128(0), hi > 0 ? b : U128(0));
}

std::string u128_str(U128 v) {
    std::string s;
    do {
        s.insert(s.begin(), char('0' + int(v % 10)));
        v /= 10;
    } while (v);
    return s;
}

// CSR/BSR index arrays are read again with the GIL released: the kernel gets private copies,
// so another thread cannot change them between the checks and the reads.
std::vector<int64_t> copy_of(const Raw& a) { return std::vector<int64_t>(a.data(), a.data() + a.size()); }

Raw gemm_i16_py(const Raw& a, const Raw& b, int64_t amax, int64_t bmax) {
    fpbind::check_matmul_shapes("gemm_i16", a, b);
    if (gemm_i16_pairs(amax, bmax) <= 0)
        throw py::value_error("gemm_i16: operand bounds amax=" + std::to_string(amax) + ", bmax=" +
                              std::to_string(bmax) + " exceed the int16 pair-sum bound 2*amax*bmax < 2^31");
    const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
    // the bounds are checked, not trusted: a value outside them (or outside int16) would make
    // the int32 pair sums overflow or the int16 packing wrap
    for (const auto& [name, arr, bound] : {std::tuple<const char*, const Raw*, int64_t>{"a", &a, amax},
                                           std::tuple<const char*, const Raw*, int64_t>{"b", &b, bmax}}) {
        int64_t lo, hi;
        min_max_i64(arr->data(), int64_t(arr->size()), &lo, &hi);
        if (lo < -bound || hi > bound || hi > 32767)
            throw py::value_error(std::string("gemm_i16: ") + name + " holds values in [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "], outside the stated bound [-" + std::to_string(bound) +
                                  ", " + std::to_string(std::min<int64_t>(bound, 32767)) + "]");
    }
    Raw out({py::ssize_t(M), py::ssize_t(N)});
    const int64_t* ap = a.data();
    const int64_t* bp = b.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        gemm_i16(ap, bp, M, K, N, amax, bmax, dst);
    }
    return out;
}

Raw gemm_i64_py(const Raw& a, const Raw& b, bool small_operands) {
    fpbind::check_matmul_shapes("gemm_i64", a, b);
    const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
    if (small_operands) {  // the packed 32-bit path is taken on the caller's word: check it
        for (const auto& [name, arr] : {std::pair<const char*, const Raw*>{"a", &a}, {"b", &b}}) {
            if (arr->size() == 0) continue;
            int64_t lo, hi;
            min_max_i64(arr->data(), int64_t(arr->size()), &lo, &hi);
            if (lo >= INT32_MIN && hi <= INT32_MAX) continue;
            const int64_t* p = arr->data();
            for (int64_t t = 0; t < int64_t(arr->size()); ++t)
                if (p[t] < INT32_MIN || p[t] > INT32_MAX)
                    throw py::value_error(std::string("gemm_i64: small_operands=True but ") + name + " holds " +
                                          std::to_string(p[t]) + " (flat index " + std::to_string(t) +
                                          "), outside int32 [-2147483648, 2147483647]");
        }
    }
    Raw out({py::ssize_t(M), py::ssize_t(N)});
    const int64_t* ap = a.data();
    const int64_t* bp = b.data();
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        gemm_i64(ap, bp, M, K, N, small_operands, dst);
    }
    return out;
}

py::tuple gemm_i128_py(const Raw& a, bool a_u64, const Raw& b, bool b_u64) {
    fpbind::check_matmul_shapes("gemm_i128", a, b);
    const int64_t M = a.shape(0), K = a.shape(1), N = b.shape(1);
    Raw lo({py::ssize_t(M), py::ssize_t(N)}), hi({py::ssize_t(M), py::ssize_t(N)});
    const int64_t* ap = a.data();
    const int64_t* bp = b.data();
    int64_t* lp = lo.mutable_data();
    int64_t* hp = hi.mutable_data();
    {
        py::gil_scoped_release release;
        gemm_i128(ap, a_u64, bp, b_u64, M, K, N, lp, hp);
    }
    return py::make_tuple(lo, hi);
}

Raw gemm_csr_py(const Raw& indptr, const Raw& indices, const Raw& values, int64_t K, const Raw& x, bool small) {
    const char* api = "gemm_csr_i64";
    if (indptr.ndim() != 1 || indptr.shape(0) < 1 || indices.ndim() != 1 || values.ndim() != 1 ||
        indices.shape(0) != values.shape(0) || x.ndim() != 2 || x.shape(0) != K)
        throw py::value_error(std::string(api) + ": expected CSR arrays of one length and x of shape (K, N)");
    const int64_t M = indptr.shape(0) - 1, N = x.shape(1), nnz = values.shape(0);
    const std::vector<int64_t> indptr_c = copy_of(indptr), indices_c = copy_of(indices);
    const int64_t* ip = indptr_c.data();
    const int64_t* ix = indices_c.data();
    if (ip[0] != 0 || ip[M] != nnz) throw py::value_error(std::string(api) + ": indptr must run from 0 to nnz");
    for (int64_t i = 0; i < M; ++i)
        if (ip[i + 1] < ip[i]) throw py::value_error(std::string(api) + ": indptr must be non-decreasing");
    check_indices(api, "column index", ix, nnz, K);
    const int64_t* vp = values.data();
    const int64_t* xp = x.data();
    if (small) {  // int32 lanes on the caller's word: check (largest row sum of |value|) * max|x| < 2^31
        const U128 lim = U128(1) << 31;
        U128 row_max = 0;
        for (int64_t i = 0; i < M; ++i) {
            U128 r = 0;
            for (int64_t t = ip[i]; t < ip[i + 1] && r < lim; ++t)
                r += vp[t] < 0 ? U128(-I128(vp[t])) : U128(vp[t]);
            row_max = std::max(row_max, r);
        }
        const U128 xm = abs_max(xp, int64_t(x.size()));
        if (row_max && xm && (row_max >= lim || xm >= lim || row_max * xm >= lim))
            throw py::value_error(std::string(api) + ": small=True but a row's sum of |value| times max|x| = " +
                                  u128_str(row_max) + " * " + u128_str(xm) + " is not below 2**31");
    }
    Raw out({py::ssize_t(M), py::ssize_t(N)});
    int64_t* dst = out.mutable_data();
    {
        py::gil_scoped_release release;
        if (small)
            gemm_csr_i32(ip, ix, vp, M, K, xp, N, dst);
        else
            gemm_csr_i64(ip, ix, vp, M, xp, N, dst);
    }
    return out;
}

py::tuple gemm_bsr_py(const Raw& indptr, const Raw& indices, const Raw& blocks, int64_t K, const Raw& x) {
    const char* api = "gemm_bsr_i64";
    if (indptr.ndim() != 1 || indptr.shape(0) < 1 || indices.ndim() != 1 || blocks.ndim() != 3 ||
        indices.shape(0) != blocks.shape(0) || x.ndim() != 2 || x.shape(0) != K)
        throw py::value_error(std::string(api) + ": expected indptr (Mb+1,), indices (nnzb,), blocks (nnzb, R, C) "
                              "and x of shape (K, N)");
    const int64_t Mb = indptr.shape(0) - 1, nnzb = blocks.shape(0), R = blocks.shape(1), C = blocks.shape(2);
    const int64_t N = x.shape(1);
    if (R < 1 || C < 1 || K % C != 0)
        throw py::value_error(std::string(api) + ": block shape (" + std::to_string(R) + ", " + std::to_string(C) +
                              ") must be positive and divide K = " + std::to_string(K));
    const int64_t Kb = K / C;
    int64_t rows;
    if (__builtin_mul_overflow(Mb, R, &rows))
        throw py::value_error(std::string(api) + ": Mb * R = " + std::to_string(Mb) + " * " + std::to_string(R) +
                              " overflows int64");
    const std::vector<int64_t> indptr_c = copy_of(indptr), indices_c = copy_of(indices);
    const int64_t* ip = indptr_c.data();
    const int64_t* ix = indices_c.data();
    if (ip[0] != 0 || ip[Mb] != nnzb) throw py::value_error(std::string(api) + ": indptr must run from 0 to nnzb");
    for (int64_t i = 0; i < Mb; ++i)
        if (ip[i + 1] < ip[i]) throw py::value_error(std::string(api) + ": indptr must be non-decreasing");
    check_indices(api, "block column index", ix, nnzb, Kb);
    Raw out({py::ssize_t(rows), py::ssize_t(N)});
    const int64_t* bp = blocks.data();
    const int64_t* xp = x.data();
    int64_t* dst = out.mutable_data();
    int path;
    {
        py::gil_scoped_release release;
        path = gemm_bsr_i64(ip, ix, bp, Mb, R, C, K, xp, N, dst);
    }
    return py::make_tuple(out, path == 2 ? "i8" : path == 1 ? "i16" : "i64");
}

}  // namespace

void bind_gemm(py::module_& m) {
    m.def("gemm_i16_pairs", &gemm_i16_pairs, py::arg("amax"), py::arg("bmax"),
          "Pairs of products an int32 partial sum holds for |a| <= amax, |b| <= bmax (0: int16 path not allowed).");
    m.def("gemm_i16", &gemm_i16_py, py::arg("a"), py::arg("b"), py::arg("amax"), py::arg("bmax"),
          "Exact (M,K)@(K,N) of int64 raws bounded by |a| <= amax, |b| <= bmax, via int16 pair sums\n"
          "(AVX2 vpmaddwd, avx512_vnni vpdpwssd; int8 values there: vpdpbusd) widened into int64 before they\n"
          "can overflow.");
    m.def("gemm_i64", &gemm_i64_py, py::arg("a"), py::arg("b"), py::arg("small_operands"),
          "Exact (M,K)@(K,N) of int64 raws whose results fit 64 bits (sums wrap modulo 2^64);\n"
          "small_operands: every operand fits int32 (packed 32-bit path; checked, ValueError if not).");
    m.def("gemm_i128", &gemm_i128_py, py::arg("a"), py::arg("a_u64"), py::arg("b"), py::arg("b_u64"),
          "Exact (M,K)@(K,N) with 128-bit sums (results up to 126 bits) as (low words, signed high words);\n"
          "a_u64/b_u64: the operand holds uint64 bit patterns.");
    m.def("gemm_csr_i64", &gemm_csr_py, py::arg("indptr"), py::arg("indices"), py::arg("values"), py::arg("k"),
          py::arg("x"), py::arg("small") = false,
          "CSR (M, K) @ dense (K, N) of int64 raws modulo 2^64 (exact for results that fit 64 bits).\n"
          "small: every row's sum of |value| times max|x| is below 2^31 (int32 lanes; checked, ValueError if not).");
    m.def("gemm_bsr_i64", &gemm_bsr_py, py::arg("indptr"), py::arg("indices"), py::arg("blocks"), py::arg("k"),
          py::arg("x"),
          "BSR (Mb*R, K) @ dense (K, N) of int64 raws modulo 2^64 (exact for results that fit 64 bits);\n"
          "blocks: (nnzb, R, C) stored blocks, indices their block columns. Returns (out, path): path 'i16'\n"
          "(int16 pair sums, vpmaddwd / vpdpwssd, taken when every |value| and |x| is <= 32767), 'i8' (int8\n"
          "quads, avx512_vnni vpdpbusd, every value and x in int8 and C % 4 == 0) or 'i64'.");
}
