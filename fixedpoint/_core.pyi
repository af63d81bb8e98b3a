"""Type stubs for the C++ extension (checked with `python -m mypy.stubtest fixedpoint._core`)."""

import numpy as np
import numpy.typing as npt

compiler: str

def quantize(
    x: npt.NDArray[np.generic], w: int, i: int, signed: bool, q: int, o: int, n: int, seed: int, nan_ap: bool
) -> tuple[npt.NDArray[np.int64], int]: ...
def cast(
    raw: npt.NDArray[np.int64],
    w2: int,
    i2: int,
    signed2: bool,
    w: int,
    i: int,
    signed: bool,
    q: int,
    o: int,
    n: int,
    seed: int,
) -> npt.NDArray[np.int64]: ...
def to_double(raw: npt.NDArray[np.int64], w: int, i: int, signed: bool) -> npt.NDArray[np.float64]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def isa() -> str: ...
def best_isa() -> str: ...
def set_isa(name: str) -> None: ...
def isa_supported(name: str) -> bool: ...
def known_isas() -> list[str]: ...
def isa_features(name: str) -> list[str]: ...

isa_emulated: bool
ARITH_OPS: dict[str, int]
Q_MODES: tuple[str, ...]
O_MODES: tuple[str, ...]
WIDE_OPS: dict[str, int]
ARITH_MAX_NATURAL_WIDTH: int

def natural_format(op: int, w1: int, i1: int, signed1: bool, w2: int, i2: int, signed2: bool) -> tuple[int, int, bool, int]: ...

def elementwise(
    op: int,
    a: npt.NDArray[np.int64],
    w1: int,
    i1: int,
    signed1: bool,
    b: npt.NDArray[np.int64],
    w2: int,
    i2: int,
    signed2: bool,
    out_fmt: tuple[int, int, bool, int, int, int] | None,
    seed: int,
    want_hi: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None, int]: ...
def matmul_accum(
    a: npt.NDArray[np.int64],
    w1: int,
    i1: int,
    signed1: bool,
    b: npt.NDArray[np.int64],
    w2: int,
    i2: int,
    signed2: bool,
    w: int,
    i: int,
    signed: bool,
    q: int,
    o: int,
    n: int,
    bias: npt.NDArray[np.int64] | None,
    seed: int,
    counter_base: int,
) -> npt.NDArray[np.int64]: ...
def dense_accum(
    x: npt.NDArray[np.int64],
    xw: int,
    xi: int,
    xsigned: bool,
    w: npt.NDArray[np.int64],
    ww: int,
    wi: int,
    wsigned: bool,
    acc_w: int,
    acc_i: int,
    acc_signed: bool,
    acc_q: int,
    acc_o: int,
    acc_n: int,
    bias_acc: npt.NDArray[np.int64] | None,
    res_w: int,
    res_i: int,
    res_signed: bool,
    res_q: int,
    res_o: int,
    res_n: int,
    *,
    relu: bool = False,
    post: tuple[int, int, bool, int, int, int] | None = None,
) -> npt.NDArray[np.int64]: ...
def conv_accum(
    x: npt.NDArray[np.int64],
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    OH: int,
    OW: int,
    xw: int,
    xi: int,
    xsigned: bool,
    w: npt.NDArray[np.int64],
    ww: int,
    wi: int,
    wsigned: bool,
    acc_w: int,
    acc_i: int,
    acc_signed: bool,
    acc_q: int,
    acc_o: int,
    acc_n: int,
    bias_acc: npt.NDArray[np.int64] | None,
    res_w: int,
    res_i: int,
    res_signed: bool,
    res_q: int,
    res_o: int,
    res_n: int,
    *,
    pad: tuple[int, int, int, int] = ...,
    relu: bool = False,
    post: tuple[int, int, bool, int, int, int] | None = None,
) -> npt.NDArray[np.int64]: ...
def max_pool(
    x: npt.NDArray[np.int64],
    ph: int,
    pw: int,
    sh: int,
    sw: int,
    pad: tuple[int, int, int, int],
    fill: int,
    xw: int,
    xsigned: bool,
) -> npt.NDArray[np.int64]: ...
def xnor_gemm(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.int32]: ...
def ternary_binary_gemm(
    mask: npt.NDArray[np.uint64], sign: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64], k: int
) -> npt.NDArray[np.int32]: ...
def binary_weight_gemm(x: npt.NDArray[np.int64], w: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]: ...
def gemm_i16_pairs(amax: int, bmax: int) -> int: ...
def gemm_i16(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], amax: int, bmax: int) -> npt.NDArray[np.int64]: ...
def gemm_i64(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64], small_operands: bool) -> npt.NDArray[np.int64]: ...
def gemm_csr_i64(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    values: npt.NDArray[np.int64],
    k: int,
    x: npt.NDArray[np.int64],
    small: bool = False,
) -> npt.NDArray[np.int64]: ...
def gemm_bsr_i64(
    indptr: npt.NDArray[np.int64],
    indices: npt.NDArray[np.int64],
    blocks: npt.NDArray[np.int64],
    k: int,
    x: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], str]: ...
def gemm_i128(
    a: npt.NDArray[np.int64], a_u64: bool, b: npt.NDArray[np.int64], b_u64: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def wide_cast(
    src: npt.NDArray[np.uint64], n: int, w2: int, i2: int, s2: bool, fmt: tuple[int, int, bool, int, int, int], seed: int
) -> npt.NDArray[np.uint64]: ...
def wide_from_double(
    x: npt.NDArray[np.float64], fmt: tuple[int, int, bool, int, int, int], seed: int
) -> npt.NDArray[np.uint64]: ...
def wide_to_double(src: npt.NDArray[np.uint64], n: int, w: int, i: int, s: bool) -> npt.NDArray[np.float64]: ...
def wide_elementwise(
    arg0: int,
    arg1: npt.NDArray[np.uint64],
    arg2: int,
    arg3: int,
    arg4: int,
    arg5: bool,
    arg6: npt.NDArray[np.uint64],
    arg7: int,
    arg8: int,
    arg9: int,
    arg10: bool,
    arg11: int,
    arg12: int,
    arg13: int,
    arg14: bool,
    arg15: object,
    arg16: int,
    /,
) -> npt.NDArray[np.uint64] | npt.NDArray[np.int8]: ...
def wide_matmul(
    arg0: npt.NDArray[np.uint64],
    arg1: int,
    arg2: int,
    arg3: bool,
    arg4: npt.NDArray[np.uint64],
    arg5: int,
    arg6: int,
    arg7: bool,
    arg8: int,
    arg9: int,
    arg10: int,
    arg11: int,
    arg12: bool,
    /,
) -> npt.NDArray[np.uint64]: ...
def wide_matmul_accum(
    a: npt.NDArray[np.uint64],
    wa: int,
    ia: int,
    sa: bool,
    b: npt.NDArray[np.uint64],
    wb: int,
    ib: int,
    sb: bool,
    M: int,
    K: int,
    N: int,
    accum: tuple[int, int, bool, int, int, int],
    bias: npt.NDArray[np.uint64] | None,
    seed: int,
    counter_base: int,
) -> npt.NDArray[np.uint64]: ...
def wide_sum_rows(
    arg0: npt.NDArray[np.uint64], arg1: int, arg2: int, arg3: bool, arg4: int, arg5: int, arg6: int, /
) -> npt.NDArray[np.uint64]: ...
