"""Raw bit patterns: ``a.bits``, ``fx.from_bits`` (ints, integer arrays, hex/binary strings) and
``a.to_hex()`` / ``a.to_bin()``, at every width up to 1024.

The expected pattern of a stored integer r in a w-bit format is the definition of two's
complement, ``r mod 2**w`` (Python ints), cross-checked with ``np.binary_repr`` up to 64 bits;
the expected strings come from Python's ``format``; never from the implementation.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import fixedpoint as fx

Fixed = fx.Fixed


def every_raw(fmt: Fixed) -> list[int]:
    return list(range(fmt.raw_min, fmt.raw_max + 1))


def some_raws(fmt: Fixed, n: int = 40, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    edges = [fmt.raw_min, fmt.raw_max, 0, 1, fmt.raw_min + 1, fmt.raw_max - 1]
    if fmt.signed:
        edges += [-1]
    return edges + [rng.randrange(fmt.raw_min, fmt.raw_max + 1) for _ in range(n)]


SMALL = [Fixed(8, 4), Fixed(5, 2, signed=False), Fixed(1, 1), Fixed(1, 0, signed=False), Fixed(6, -3),
         Fixed(7, 9, q="RND", o="SAT")]
WIDE = [Fixed(63, 3), Fixed(64, 10), Fixed(64, 64, signed=False), Fixed(65, 1), Fixed(65, 65, signed=False),
        Fixed(127, 60), Fixed(128, 1, signed=False), Fixed(300, -20), Fixed(1024, 512), Fixed(1024, 0, signed=False)]


def check_patterns(fmt: Fixed, raws: list[int]) -> None:
    w = fmt.w
    a = fx.from_raw(raws, fmt)
    want = [r % (1 << w) for r in raws]
    bits = a.bits
    assert bits.dtype == (np.uint64 if w <= 64 else object)
    assert [int(v) for v in bits] == want
    assert not bits.flags.writeable
    if w <= 64:
        assert [int(np.binary_repr(r, width=w), 2) for r in raws] == want
    hexs = [format(v, f"0{(w + 3) // 4}x") for v in want]
    bins = [format(v, f"0{w}b") for v in want]
    assert a.to_hex().tolist() == ["0x" + h for h in hexs]
    assert a.to_hex(prefix=False).tolist() == hexs
    assert a.to_bin().tolist() == ["0b" + b for b in bins]
    assert a.to_bin(prefix=False).tolist() == bins
    # back from every spelling
    for src, base in ((want, None), (bits, None), (a.to_hex(), None), (a.to_bin(), None), (hexs, 16), (bins, 2),
                      ([str(v) for v in want], None)):
        back = fx.from_bits(src, fmt, base=base)
        assert back.fmt == fmt and back.shape == a.shape
        assert [int(v) for v in back.raw] == raws


@pytest.mark.parametrize("fmt", SMALL, ids=str)
def test_every_value_small_formats(fmt):
    check_patterns(fmt, every_raw(fmt))


@pytest.mark.parametrize("fmt", WIDE, ids=str)
def test_wide_and_edge_widths(fmt):
    check_patterns(fmt, some_raws(fmt))


def test_integer_array_inputs_and_shapes():
    fmt = Fixed(8, 4)
    want = [[-1, 127], [-128, 0]]
    for src in (np.array([[255, 127], [128, 0]], dtype=np.uint8), np.array([[255, 127], [128, 0]], dtype=np.int16),
                np.array([[255, 127], [128, 0]], dtype=np.uint64), [[255, 127], [128, 0]],
                [["0xff", "0x7f"], ["0x80", "0"]], np.array([["ff", "7f"], ["80", "00"]])):
        base = 16 if isinstance(src, np.ndarray) and src.dtype.kind == "U" else None
        np.testing.assert_array_equal(fx.from_bits(src, fmt, base=base).raw, np.array(want))
    x = fx.from_bits("0b1000_0001", "ap_fixed<8,4>")  # 0-d, underscores as in Python literals
    assert x.shape == () and int(x.raw) == -127 and x.to_hex() == "0x81" and x.to_bin() == "0b10000001"
    assert fx.from_bits(b"0x7f", fmt).raw.tolist() == 127
    big = (1 << 1023) + 5  # a 1024-bit pattern from a Python int: raw -2**1023 + 5
    assert int(fx.from_bits(big, Fixed(1024, 8)).raw) == big - (1 << 1024)
    assert fx.from_bits([], fmt).shape == (0,)


def test_errors():
    fmt = "ap_fixed<8,4>"
    with pytest.raises(ValueError, match=r"fx.from_bits: bit pattern 256 at index \(1,\) is outside the 8-bit "
                                         r"patterns of ap_fixed<8,4>, \[0, 2\*\*8\) = \[0, 255\]"):
        fx.from_bits([1, 256], fmt)
    with pytest.raises(ValueError, match=r"bit pattern -1 at index \(0,\) is outside"):
        fx.from_bits(np.array([-1, 3], dtype=np.int32), fmt)
    with pytest.raises(ValueError, match=r"bit pattern 256 at index \(\) is outside"):
        fx.from_bits("0x100", fmt)
    with pytest.raises(ValueError, match=r"bit pattern 18446744073709551615 at index \(0,\) is outside the 63-bit"):
        fx.from_bits(np.array([2**64 - 1], dtype=np.uint64), Fixed(63, 1))
    with pytest.raises(ValueError, match=r"is outside the 65-bit"):
        fx.from_bits([1 << 65], Fixed(65, 1))
    with pytest.raises(ValueError, match=r"fx.from_bits: cannot read 'ff' at index \(0,\) as a bit pattern; expected "
                                         r"a 0x \(hex\), 0b \(binary\) or 0o prefix, or decimal digits \(pass "
                                         r"base=16"):
        fx.from_bits(["ff"], fmt)
    with pytest.raises(ValueError, match=r"cannot read '12' at index \(1,\) as a bit pattern; expected base-2 digits"):
        fx.from_bits(["10", "12"], fmt, base=2)
    with pytest.raises(TypeError, match=r"fx.from_bits: bit patterns must be integers or strings, got an array of "
                                        r"dtype float64"):
        fx.from_bits([1.0, 2.0], fmt)
    with pytest.raises(TypeError, match=r"a sequence of bit strings holds int \(2\); pass all strings or all "
                                        r"integers"):
        fx.from_bits(["0x1", 2], fmt)
    with pytest.raises(TypeError, match=r"fx.from_bits: fmt must be a fx.Fixed or a type string"):
        fx.from_bits([1], 8)
