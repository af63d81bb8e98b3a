"""Production's Python-int casts (``fixedpoint._pyint``) against the reference model: every
rounding and overflow mode, saturation bits, signedness, widths up to 1024 bits and integers far
beyond them (what ``fx.array`` of Python ints sends there), and the STOCH words against the
reference generator. The reference model is itself checked against the real ap_fixed.h by the
golden vectors (tests/test_golden.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx
from fixedpoint import _pyint
from fixedpoint import _reference as ref

Q_MODES = [q.value for q in fx.QMode]
O_MODES = [o.value for o in fx.OMode]


def _formats(rng: random.Random, count: int):
    widths = [1, 2, 3, 7, 8, 31, 63, 64, 65, 127, 200, 1023, 1024]
    for _ in range(count):
        w = rng.choice(widths)
        signed = rng.random() < 0.7
        o = rng.choice(O_MODES if signed else [o for o in O_MODES if o != "WRAP_SM"])
        n = rng.choice([0, 0, 1, 2, w]) if o in ("WRAP", "WRAP_SM") else 0
        i = w + rng.choice([0, 0, -3, 5, -w, 40, 1500, -1500, rng.randint(-2 * w, 2 * w)])
        yield fx.Fixed(w, i, signed=signed, q=rng.choice(Q_MODES), o=o, n=min(n, w))


def _values(rng: random.Random):
    out = [0, 1, -1, 2**1023, -(2**1023), 2**1100 + 3, -(2**1100) - 1, 2**2000 - 1, -(2**3000)]
    for bits in (5, 64, 65, 600, 1024, 1025, 1100, 2500):
        v = rng.getrandbits(bits)
        out += [v, -v, v | 1, -(v | (1 << (bits - 1)))]
    return out


def test_cast_int_equals_the_reference_model():
    rng = random.Random(19)
    values = _values(rng)
    checked = 0
    for fmt in _formats(rng, 400):
        s = fmt.i - fmt.w  # fmt's lsb is 2**s: aim at the rounding ties and their neighbours
        ties = [(m << s) + (1 << (s - 1)) + d for m in (0, 1, 2, 3, -1, -2, -3, 2**1100 + 1, -(2**1100))
                for d in (0, 1, -1)] if s > 0 else []
        for k, v in enumerate(values + ties):
            seed = rng.getrandbits(64)
            want = ref.from_int(v, fmt.w, fmt.i, fmt.signed, fmt.q.value, fmt.o.value, fmt.n, seed=seed, index=k)
            got = _pyint.cast_int(v, fmt, seed, k)
            assert got == want, (fmt, v, seed, k)
            checked += 1
    assert checked >= 400 * len(values)


@settings(max_examples=300, deadline=None)
@given(v=st.integers(-(2**1300), 2**1300), w=st.integers(1, 1024), di=st.integers(-1200, 1200),
       signed=st.booleans(), q=st.sampled_from(Q_MODES), o=st.sampled_from(O_MODES), n=st.integers(0, 4),
       seed=st.integers(0, 2**64 - 1), index=st.integers(0, 2**40))
def test_cast_int_equals_the_reference_model_hypothesis(v, w, di, signed, q, o, n, seed, index):
    if o == "WRAP_SM" and not signed:
        o = "WRAP"
    n = min(n, w) if o in ("WRAP", "WRAP_SM") else 0
    fmt = fx.Fixed(w, w + di, signed=signed, q=q, o=o, n=n)
    want = ref.from_int(v, w, w + di, signed, q, o, n, seed=seed, index=index)
    assert _pyint.cast_int(v, fmt, seed, index) == want


@pytest.mark.parametrize("o", ["WRAP_SM", "WRAP", "SAT"])
def test_fx_array_of_huge_ints_uses_it(o):
    """fx.array of Python ints beyond the kernels' 1024-bit sources (and WRAP_SM without
    saturation bits) equals the reference model element by element, STOCH words included."""
    fmt = fx.Fixed(40, 50, q="STOCH", o=o)
    vals = [2**1100 + 12345, -(2**1050) - 777, 3, -(2**1030) + 2**9]
    got = fx.array(np.array(vals, dtype=object), fmt, seed=77)
    want = [ref.from_int(v, 40, 50, True, "STOCH", o, 0, seed=77, index=k) for k, v in enumerate(vals)]
    assert [int(r) for r in got.raw.tolist()] == want


def test_stoch_words_and_seed_shift_equal_the_reference_generator():
    rng = random.Random(3)
    for _ in range(50):
        seed, index = rng.getrandbits(64), rng.getrandbits(40)
        assert _pyint.stoch_word(seed, index) == ref.stoch_bits(seed, index)
        w = rng.getrandbits(64)
        assert _pyint.unmix64(_pyint.mix64(w)) == w
