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
