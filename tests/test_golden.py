"""Golden vectors (produced by the real ap_fixed.h) against the reference model and the API.

* ``test_reference_*``: every record, at every width (including > 64 bits), must match
  ``fixedpoint._reference`` exactly. These need only the pure-Python reference.
* ``test_api_*``: the public API (C++ core) on every record whose source and destination
  widths are <= 64 (the native fast path), vectorized per format group.

Mismatches are counted over the whole file and reported with examples.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

import _golden
from _golden import Mismatches, describe, records

ref = _golden.reference()

ARITH_OPS = ("add", "sub", "mul", "div", "neg")


# --------------------------------------------------------------------------------------
# sanity of the golden set itself
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", _golden.FILES)
def test_golden_file_complete(name):
    """Each file holds the number of records its README states (guards truncated copies)."""
    recs = records(name)
    readme = _golden.golden_dir() / "README.md"
    m = re.search(rf"`{name}\.jsonl\.gz`\s*\|\s*([\d,]+)", readme.read_text()) if readme.is_file() else None
    if m:
        assert len(recs) == int(m.group(1).replace(",", "")), f"{name}: README says {m.group(1)} records"
    else:
        assert len(recs) > 1000
    if name != "arith":
        widths = {r["dst"].w for r in recs}
        assert max(widths) > 64, "wide destinations must be covered"
        assert {r["dst"].q for r in recs} == set(ref.Q_MODES) - {"STOCH"}
        assert {r["dst"].o for r in recs} == set(ref.O_MODES)


# --------------------------------------------------------------------------------------
# reference model: 100% of the records, all widths
# --------------------------------------------------------------------------------------
def test_reference_from_double_golden():
    recs = records("from_double")
    mm = Mismatches("reference from_double")
    from_double = ref.from_double
    for r in recs:
        d = r["dst"]
        got = from_double(r["x"], d.w, d.i, d.signed, d.q, d.o, d.n, nan="ap")
        mm.total += 1
        if got != r["raw"]:
            mm.add(f"{describe(r)} -> reference {got}")
    mm.check()


def test_reference_cast_golden():
    recs = records("cast")
    mm = Mismatches("reference cast")
    cast_raw = ref.cast_raw
    for r in recs:
        s, d = r["src"], r["dst"]
        got = cast_raw(r["src_raw"], s.w, s.i, s.signed, d.w, d.i, d.signed, d.q, d.o, d.n)
        mm.total += 1
        if got != r["raw"]:
            mm.add(f"{describe(r)} -> reference {got}")
    mm.check()


@pytest.mark.parametrize("op", ARITH_OPS)
def test_reference_arith_result_golden(op):
    """Natural result format and exact result (division with README quirk 5)."""
    recs = [r for r in records("arith") if r["op"] == op]
    assert recs
    mm = Mismatches(f"reference arith {op}")
    for r in recs:
        b = r["b"].base if op != "neg" else None
        raw, res = ref.arith_raw(op, r["a_raw"], r["a"].base, r.get("b_raw"), b)
        mm.total += 1
        if res != r["res"].base or raw != r["raw"]:
            mm.add(f"{describe(r)} -> reference res={res} raw={raw}")
    mm.check()


def test_reference_arith_assignment_golden():
    """``ToType t = a OP b``: the cast of the recorded full-precision result into ``to``."""
    recs = [r for r in records("arith") if "to" in r]
    assert recs
    mm = Mismatches("reference arith assignment (cast of the result)")
    for r in recs:
        s, d = r["res"], r["to"]
        got = ref.cast_raw(r["raw"], s.w, s.i, s.signed, d.w, d.i, d.signed, d.q, d.o, d.n)
        mm.total += 1
        if got != r["to_raw"]:
            mm.add(f"{describe(r)} -> reference {got}")
    mm.check()


def test_reference_to_double_golden():
    recs = [r for r in records("arith") if "to_double" in r]
    assert recs
    mm = Mismatches("reference to_double")
    for r in recs:
        s = r["res"]
        got = ref.to_double(r["raw"], s.w, s.i, s.signed)
        mm.total += 1
        exp = r["to_double"]
        if got != exp or np.signbit(got) != np.signbit(exp):
            mm.add(f"{describe(r)} -> reference {got.hex()}")
    mm.check()


# --------------------------------------------------------------------------------------
# public API (C++ core), widths <= 64
# --------------------------------------------------------------------------------------
def _raw_dtype(w: int, signed: bool):
    return np.uint64 if (not signed and w == 64) else np.int64


def _fx():
    import fixedpoint as fx  # the built package; failing here means the core is not built

    return fx


def _fixed(fx, f):
    if f.q is None:
        return fx.Fixed(f.w, f.i, signed=f.signed)
    return fx.Fixed(f.w, f.i, signed=f.signed, q=f.q, o=f.o, n=f.n)


def _compare_group(mm: Mismatches, label: str, got, expected: np.ndarray, inputs) -> None:
    mm.total += len(expected)
    got = np.asarray(got)
    if got.dtype != expected.dtype:
        mm.add(f"{label}: raw dtype {got.dtype}, expected {expected.dtype}", len(expected))
        return
    try:
        np.testing.assert_array_equal(got, expected)
    except AssertionError:
        bad = np.flatnonzero(got != expected) if got.shape == expected.shape else np.arange(len(expected))
        ex = ", ".join(
            f"{inputs[k]} -> {got[k] if got.shape == expected.shape else '?'} (expected {expected[k]})"
            for k in bad[:3]
        )
        mm.add(f"{label}: {len(bad)} of {len(expected)} differ: {ex}", len(bad))


def test_api_from_double_golden():
    fx = _fx()
    groups: dict = defaultdict(list)
    for r in records("from_double"):
        if r["dst"].w <= 64:
            groups[r["dst"]].append(r)
    assert groups
    mm = Mismatches("API fx.array(float64, fmt, nan='ap').raw")
    for d, recs in groups.items():
        xs = np.array([r["x"] for r in recs], dtype=np.float64)
        expected = np.array([r["raw"] for r in recs], dtype=_raw_dtype(d.w, d.signed))
        got = fx.array(xs, _fixed(fx, d), nan="ap").raw
        _compare_group(mm, str(d), got, expected, [x.hex() for x in xs.tolist()])
    mm.check()


def test_api_cast_golden():
    fx = _fx()
    groups: dict = defaultdict(list)
    for r in records("cast"):
        if r["src"].w <= 64 and r["dst"].w <= 64:
            groups[(r["src"], r["dst"])].append(r)
    assert groups
    mm = Mismatches("API fx.from_raw(raw, src).cast(dst).raw")
    for (s, d), recs in groups.items():
        src_raw = np.array([r["src_raw"] for r in recs], dtype=_raw_dtype(s.w, s.signed))
        expected = np.array([r["raw"] for r in recs], dtype=_raw_dtype(d.w, d.signed))
        got = fx.from_raw(src_raw, _fixed(fx, s)).cast(_fixed(fx, d)).raw
        _compare_group(mm, f"{s} -> {d}", got, expected, src_raw.tolist())
    mm.check()


# --------------------------------------------------------------------------------------
# public API: FixedArray arithmetic (every record; results beyond 64 bits are object raws)
# --------------------------------------------------------------------------------------
_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}
_FUSED = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide"}


def _arith_groups():
    groups: dict = defaultdict(list)
    for r in records("arith"):
        groups[(r["op"], r["a"], r.get("b"))].append(r)
    assert groups
    return groups


def _raws(fx, fmt, values):
    return fx.from_raw(np.array(values, dtype=object) if fmt.w > 64 else
                       np.array(values, dtype=_raw_dtype(fmt.w, fmt.signed)), _fixed(fx, fmt))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "neg"])
def test_api_arith_golden(op):
    """a OP b through the operators: the natural result format and its raw bits, 100%."""
    fx = _fx()
    mm = Mismatches(f"API FixedArray {op}")
    for (o, fa, fb), recs in _arith_groups().items():
        if o != op:
            continue
        a = _raws(fx, fa, [r["a_raw"] for r in recs])
        if op == "neg":
            res = -a
        else:
            res = _OPS[op](a, _raws(fx, fb, [r["b_raw"] for r in recs]))
        rf = recs[0]["res"]
        mm.total += len(recs)
        if (res.fmt.w, res.fmt.i, res.fmt.signed) != rf.base:
            mm.add(f"{describe(recs[0])}: result format {res.fmt}, expected {rf}", len(recs))
            continue
        got = [int(v) for v in res.raw.reshape(-1)]
        for r, g in zip(recs, got):
            if g != r["raw"]:
                mm.add(f"{describe(r)} -> {g}")
    assert mm.total > 0
    mm.check()


def test_api_arith_assignment_golden():
    """``ToType t = a OP b``: the operator followed by .cast(to), and the fused fx.add/... with
    out_fmt=to (one pass), both equal the header's assignment, 100%."""
    fx = _fx()
    mm = Mismatches("API arith assignment (a op b).cast(to) and fused out_fmt=to")
    groups: dict = defaultdict(list)
    for r in records("arith"):
        if "to" in r:
            groups[(r["op"], r["a"], r.get("b"), r["to"])].append(r)
    assert groups
    for (op, fa, fb, to), recs in groups.items():
        a = _raws(fx, fa, [r["a_raw"] for r in recs])
        b = _raws(fx, fb, [r["b_raw"] for r in recs])
        tfmt = _fixed(fx, to)
        cast = _OPS[op](a, b).cast(tfmt)
        fused = getattr(fx, _FUSED[op])(a, b, out_fmt=tfmt)
        mm.total += 2 * len(recs)
        for label, res in (("cast", cast), ("fused", fused)):
            for r, g in zip(recs, (int(v) for v in res.raw.reshape(-1))):
                if g != r["to_raw"]:
                    mm.add(f"{label}: {describe(r)} -> {g}")
    assert mm.total > 0
    mm.check()


def test_api_arith_to_double_golden():
    fx = _fx()
    mm = Mismatches("API arith result .to_float()")
    for (op, fa, fb), recs in _arith_groups().items():
        recs = [r for r in recs if "to_double" in r]
        if not recs:
            continue
        a = _raws(fx, fa, [r["a_raw"] for r in recs])
        res = -a if op == "neg" else _OPS[op](a, _raws(fx, fb, [r["b_raw"] for r in recs]))
        got = res.to_float()
        exp = np.array([r["to_double"] for r in recs])
        mm.total += len(recs)
        bad = np.flatnonzero((got != exp) | (np.signbit(got) != np.signbit(exp)))
        for k in bad:
            mm.add(f"{describe(recs[k])} -> {got[k].hex()}")
    assert mm.total > 0
    mm.check()
