"""fixedpoint: bit-accurate ap_fixed-compatible fixed-point numerics.

What ``fixedpoint`` computes is, bit for bit, what Vivado/Vitis HLS ``ap_fixed``
code computes, without compiling.

>>> import fixedpoint as fx
>>> a = fx.array([0.1, -2.5, 40.0], "ap_fixed<8,4,AP_RND,AP_SAT>")
>>> a.raw.tolist(), a.to_float().tolist()
([2, -40, 127], [0.125, -2.5, 7.9375])
"""

from __future__ import annotations

__version__ = "0.1.0"

from .format import MAX_WIDTH, Fixed, OMode, QMode  # noqa: E402
from .array import FixedArray, format_bits  # noqa: E402
from .quantize import array, from_bits, from_raw  # noqa: E402
from . import _operators  # noqa: E402,F401  (attaches FixedArray's operators, reductions and NumPy protocols)
from ._arith import absolute, add, compare, divide, multiply, negative, subtract  # noqa: E402
from ._join import clip, concatenate, maximum, minimum, relu, stack, where  # noqa: E402
from ._matmul import dot, outer  # noqa: E402
from ._linalg import linear, matmul  # noqa: E402
from ._operands import result_format, unify_formats  # noqa: E402
from .network import Dense, Network, ScanResult  # noqa: E402
from .scanner import GraphScanResult, scan  # noqa: E402
from . import hls4ml  # noqa: E402  (fx.hls4ml.emulate; hls4ml itself is optional)
from .sparse import SparseFixed  # noqa: E402
from ._runtime import build_info, get_isa, get_num_threads, known_isas, set_isa, set_num_threads  # noqa: E402
from . import binary  # noqa: E402
from . import prune  # noqa: E402
from . import datasets  # noqa: E402  (demo data: NumPy only)

__all__ = [
    "MAX_WIDTH",
    "Dense",
    "Fixed",
    "FixedArray",
    "GraphScanResult",
    "Network",
    "OMode",
    "QMode",
    "SparseFixed",
    "absolute",
    "add",
    "array",
    "binary",
    "build_info",
    "clip",
    "compare",
    "concatenate",
    "datasets",
    "divide",
    "dot",
    "format_bits",
    "from_bits",
    "from_raw",
    "hls4ml",
    "get_isa",
    "get_num_threads",
    "known_isas",
    "linear",
    "matmul",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "outer",
    "prune",
    "relu",
    "result_format",
    "scan",
    "ScanResult",
    "set_isa",
    "set_num_threads",
    "stack",
    "subtract",
    "unify_formats",
    "where",
]
