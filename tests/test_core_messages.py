"""The extension's shape errors name the shapes they got (issue 19): a user who passes the wrong
operands to a kernel learns what was wrong from the message alone."""

import numpy as np
import pytest

from fixedpoint import _core


def _raw(*shape):
    return np.zeros(shape, dtype=np.int64)


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: _core.gemm_i64(a, b, False),
        lambda a, b: _core.matmul_accum(a, 8, 4, True, b, 8, 4, True, 24, 12, True, 0, 0, 0, None, 0, 0),
    ],
    ids=["gemm_i64", "matmul_accum"],
)
@pytest.mark.parametrize(
    ("a", "b", "shapes"),
    [((3, 4), (5, 2), "(3, 4) and (5, 2)"), ((4,), (4, 2), "(4,) and (4, 2)"), ((2, 3), (3, 2, 1), "(2, 3) and (3, 2, 1)")],
)
def test_matmul_shape_errors_name_the_shapes(call, a, b, shapes):
    with pytest.raises(ValueError, match=r"expected \(M, K\) and \(K, N\) operands, got " + shapes.replace("(", r"\(")
                       .replace(")", r"\)")):
        call(_raw(*a), _raw(*b))


def test_matmul_accum_bias_shape_error_names_the_shapes():
    with pytest.raises(ValueError, match=r"bias must have shape \(N,\) = \(2,\), got \(3,\)"):
        _core.matmul_accum(_raw(3, 4), 8, 4, True, _raw(4, 2), 8, 4, True, 24, 12, True, 0, 0, 0, _raw(3), 0, 0)
