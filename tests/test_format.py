"""The public format type ``fx.Fixed``: fields, derived properties, parsing, printing, errors.

Expectations are computed from first principles (``Fraction``, the ap_fixed definitions
``f = w - i``, ``lsb = 2**-f``, two's-complement ranges), never copied from format.py.
"""

from __future__ import annotations

import copy
import math
import pickle
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fixedpoint as fx

import strategies  # noqa: E402
from strategies import O_MODES as O_NAMES, Q_MODES as Q_NAMES  # noqa: E402
ALLOWED_Q = ", ".join(Q_NAMES)
ALLOWED_O = ", ".join(O_NAMES)

SETTINGS = settings(max_examples=300, deadline=None)


# --------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------
def formats(max_w: int = fx.MAX_WIDTH, i_margin: int = 40):
    """Every valid (w, i, signed, q, o, n) combination, with n only for the WRAP modes (the
    shared strategy, mostly up to 64 bits)."""
    return st.one_of(strategies.formats(1, min(64, max_w), i_margin=i_margin),
                     strategies.formats(1, max_w, i_margin=i_margin))


def _mode_spellings(enum_cls, name):
    """The interchangeable spellings of one mode: name, AP_name, the enum member."""
    return st.sampled_from([name, "AP_" + name, enum_cls(name)])


# --------------------------------------------------------------------------------------
# construction, immutability, hashing
# --------------------------------------------------------------------------------------
def test_defaults_are_ap_fixed_defaults():
    fmt = fx.Fixed(16, 6)
    assert (fmt.w, fmt.i, fmt.signed, fmt.q, fmt.o, fmt.n) == (16, 6, True, fx.QMode.TRN, fx.OMode.WRAP, 0)


def test_fields_are_normalized_enums():
    fmt = fx.Fixed(16, 6, signed=False, q="AP_RND", o="sat", n=0)
    assert fmt.q is fx.QMode.RND and fmt.o is fx.OMode.SAT
    assert isinstance(fmt.w, int) and isinstance(fmt.i, int) and fmt.signed is False


@pytest.mark.parametrize("field", ["w", "i", "signed", "q", "o", "n", "not_a_field"])
def test_immutable(field):
    fmt = fx.Fixed(16, 6)
    with pytest.raises(AttributeError, match="Fixed is immutable"):
        setattr(fmt, field, 3)
    with pytest.raises(AttributeError, match="Fixed is immutable"):
        delattr(fmt, field)
    assert fmt == fx.Fixed(16, 6)


def test_no_instance_dict():
    # __slots__: no per-instance dict that would allow smuggling attributes in
    assert not hasattr(fx.Fixed(8, 4), "__dict__")


@SETTINGS
@given(formats())
def test_hash_and_equality_follow_the_fields(fmt):
    twin = fx.Fixed(fmt.w, fmt.i, signed=fmt.signed, q=fmt.q.value, o=fmt.o.value, n=fmt.n)
    assert twin == fmt and hash(twin) == hash(fmt)
    assert {fmt: 1}[twin] == 1
    assert len({fmt, twin}) == 1
    # copies and pickles are equal and hash equal
    for other in (copy.copy(fmt), copy.deepcopy(fmt), pickle.loads(pickle.dumps(fmt))):
        assert other == fmt and hash(other) == hash(fmt)
    # changing any single field gives a different format
    others = [fx.Fixed(fmt.w, fmt.i + 1, signed=fmt.signed, q=fmt.q, o=fmt.o, n=fmt.n)]
    if fmt.w < fx.MAX_WIDTH:
        others.append(fx.Fixed(fmt.w + 1, fmt.i, signed=fmt.signed, q=fmt.q, o=fmt.o, n=fmt.n))
    if fmt.o is not fx.OMode.WRAP_SM:
        others.append(fx.Fixed(fmt.w, fmt.i, signed=not fmt.signed, q=fmt.q, o=fmt.o, n=fmt.n))
    others.append(fmt.replace(q="TRN" if fmt.q is not fx.QMode.TRN else "RND"))
    if fmt.n == 0:
        others.append(fmt.replace(o="SAT" if fmt.o is not fx.OMode.SAT else "WRAP"))
    for other in others:
        assert other != fmt


def test_equality_with_other_types():
    fmt = fx.Fixed(16, 6)
    assert fmt != "ap_fixed<16,6>"
    assert fmt != (16, 6, True, "TRN", "WRAP", 0)
    assert fmt.__eq__(3) is NotImplemented


def test_replace():
    fmt = fx.Fixed(16, 6, q="RND", o="SAT")
    assert fmt.replace(w=8) == fx.Fixed(8, 6, q="RND", o="SAT")
    assert fmt.replace(o="WRAP", n=3) == fx.Fixed(16, 6, q="RND", o="WRAP", n=3)
    assert fmt == fx.Fixed(16, 6, q="RND", o="SAT")  # unchanged
    with pytest.raises(TypeError, match=r"Fixed\.replace: unknown fields \['width'\]; allowed: \['w', 'i', "):
        fmt.replace(width=8)
    assert fmt.replace(n=1) == fmt  # the header never reads N under SAT (test_n_with_non_wrap_modes)


# --------------------------------------------------------------------------------------
# derived properties, from first principles
# --------------------------------------------------------------------------------------
def _exact_range(w: int, i: int, signed: bool):
    """(raw_min, raw_max, lsb) from the definitions: raw * 2**(i - w)."""
    if signed:
        raw_min, raw_max = -(2 ** (w - 1)), 2 ** (w - 1) - 1
    else:
        raw_min, raw_max = 0, 2**w - 1
    return raw_min, raw_max, Fraction(2) ** (i - w)


def _nearest_float(x: Fraction) -> float:
    """IEEE round-to-nearest of an exact value; +-inf beyond the double range."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


@SETTINGS
@given(formats())
def test_derived_properties(fmt):
    raw_min, raw_max, lsb = _exact_range(fmt.w, fmt.i, fmt.signed)
    assert fmt.f == fmt.w - fmt.i
    assert fmt.raw_min == raw_min and fmt.raw_max == raw_max
    assert fmt.lsb_exact == lsb
    # the float properties are the exact values rounded to nearest (exact when they fit)
    assert fmt.lsb == math.ldexp(1.0, fmt.i - fmt.w) and Fraction(fmt.lsb) == lsb  # lsb in range here
    for prop, exact in (("min", raw_min * lsb), ("max", raw_max * lsb)):
        want = _nearest_float(exact)
        if math.isinf(want):
            continue  # beyond the double range: test_min_max_beyond_double_range
        got = getattr(fmt, prop)
        assert isinstance(got, float)
        assert got == want
        if abs(exact.numerator).bit_length() <= 53:
            assert Fraction(got) == exact


@pytest.mark.parametrize(
    "text, lo, hi, lsb",
    [
        ("ap_fixed<16,6>", -32, 32 - 2**-10, 2**-10),
        ("ap_ufixed<16,6>", 0, 64 - 2**-10, 2**-10),
        ("ap_fixed<8,8>", -128, 127, 1),
        ("ap_uint<8>", 0, 255, 1),
        ("ap_fixed<4,-2>", -(2**-3), 2**-3 - 2**-6, 2**-6),
        ("ap_ufixed<4,7>", 0, 15 * 8, 8),
        ("ap_fixed<1,1>", -1, 0, 1),
        ("ap_ufixed<1,0>", 0, 0.5, 0.5),
        ("ap_fixed<64,64>", -(2**63), 2**63 - 1, 1),  # 2**63-1 rounds to 2.0**63 as a float
    ],
)
def test_derived_properties_worked_examples(text, lo, hi, lsb):
    fmt = fx.Fixed.parse(text)
    assert (fmt.min, fmt.max, fmt.lsb) == (float(lo), float(hi), float(lsb))


@pytest.mark.parametrize("text", ["ap_uint<1024>", "ap_fixed<1024,1030>", "ap_fixed<8,1100>"])
def test_min_max_beyond_double_range(text):
    fmt = fx.Fixed.parse(text)
    assert fmt.max == math.inf
    assert fmt.min == (-math.inf if fmt.signed else 0.0)


def test_lsb_beyond_double_range():
    assert fx.Fixed(8, 1100).lsb == math.inf


def test_lsb_below_double_range():
    assert fx.Fixed(8, -1100).lsb == 0.0  # 2**-1108 underflows to zero
    assert fx.Fixed(8, -1060).lsb == math.ldexp(1.0, -1068)  # subnormal, exact
    assert fx.Fixed(8, -1060).lsb_exact == Fraction(1, 2**1068)


def test_widest_format():
    fmt = fx.Fixed(fx.MAX_WIDTH, 1000)
    assert fx.MAX_WIDTH == 1024
    assert fmt.raw_max == 2**1023 - 1 and fmt.raw_min == -(2**1023)
    assert fmt.f == 24 and fmt.max == float(Fraction(2**1023 - 1, 2**24))


# --------------------------------------------------------------------------------------
# modes: strings, AP_-prefixed strings and enum members are interchangeable
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("q", Q_NAMES)
def test_q_mode_spellings(q):
    want = fx.Fixed(8, 3, q=fx.QMode(q))
    for spelling in (q, "AP_" + q, fx.QMode(q), getattr(fx.QMode, q), f"  {q} "):
        fmt = fx.Fixed(8, 3, q=spelling)
        assert fmt == want and fmt.q is fx.QMode[q]
    assert want.q == q and str(want.q) == q  # a str enum: compares equal to its name


@pytest.mark.parametrize("o", O_NAMES)
def test_o_mode_spellings(o):
    n = 2 if o.startswith("WRAP") else 0
    want = fx.Fixed(8, 3, o=fx.OMode(o), n=n)
    for spelling in (o, "AP_" + o, fx.OMode(o), getattr(fx.OMode, o)):
        fmt = fx.Fixed(8, 3, o=spelling, n=n)
        assert fmt == want and fmt.o is fx.OMode[o]
    assert want.o == o and str(want.o) == o


def test_mode_enums_are_complete():
    assert [m.value for m in fx.QMode] == list(Q_NAMES)
    assert [m.value for m in fx.OMode] == list(O_NAMES)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mode_spellings_mix_freely(data):
    q = data.draw(st.sampled_from(Q_NAMES))
    o = data.draw(st.sampled_from(O_NAMES))
    fmt = fx.Fixed(12, 5, q=data.draw(_mode_spellings(fx.QMode, q)), o=data.draw(_mode_spellings(fx.OMode, o)))
    assert fmt == fx.Fixed(12, 5, q=q, o=o)
    assert fx.Fixed.parse(f"ap_fixed<12,5,{data.draw(st.sampled_from([q, 'AP_' + q]))},"
                          f"{data.draw(st.sampled_from([o, 'AP_' + o]))}>") == fmt
    assert fx.Fixed.parse(f"fixed<12,5,{data.draw(st.sampled_from([q, 'AP_' + q]))},"
                          f"{data.draw(st.sampled_from([o, 'AP_' + o]))},0>") == fmt


# --------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------
F = fx.Fixed


@pytest.mark.parametrize(
    "text, want",
    [
        # ap_fixed spellings, full and with defaulted trailing arguments
        ("ap_fixed<16,6,AP_RND,AP_SAT,0>", F(16, 6, True, "RND", "SAT", 0)),
        ("ap_fixed<16,6,AP_RND,AP_SAT>", F(16, 6, True, "RND", "SAT", 0)),
        ("ap_fixed<16,6,AP_RND>", F(16, 6, True, "RND", "WRAP", 0)),
        ("ap_fixed<16,6>", F(16, 6, True, "TRN", "WRAP", 0)),
        ("ap_fixed<18,8,AP_RND_CONV,AP_WRAP,3>", F(18, 8, True, "RND_CONV", "WRAP", 3)),
        ("ap_fixed<18,8,AP_TRN_ZERO,AP_WRAP_SM,1>", F(18, 8, True, "TRN_ZERO", "WRAP_SM", 1)),
        ("ap_fixed<8,-3>", F(8, -3)),
        ("ap_fixed<8,+3>", F(8, 3)),
        ("ap_fixed<4,12,AP_RND_INF,AP_SAT_SYM>", F(4, 12, True, "RND_INF", "SAT_SYM")),
        ("ap_ufixed<8,0,AP_RND_ZERO,AP_SAT_ZERO,0>", F(8, 0, False, "RND_ZERO", "SAT_ZERO")),
        ("ap_ufixed<8,3>", F(8, 3, False)),
        ("ap_ufixed<8,3,AP_RND_MIN_INF>", F(8, 3, False, "RND_MIN_INF")),
        ("ap_int<8>", F(8, 8, True)),
        ("ap_uint<8>", F(8, 8, False)),
        ("ap_int<1>", F(1, 1, True)),
        ("ap_uint<1024>", F(1024, 1024, False)),
        ("ap_fixed<1024,1024,AP_STOCH,AP_WRAP,1024>", F(1024, 1024, True, "STOCH", "WRAP", 1024)),
        # hls4ml spellings
        ("fixed<16,6,RND,SAT,0>", F(16, 6, True, "RND", "SAT", 0)),
        ("fixed<16,6,RND,SAT>", F(16, 6, True, "RND", "SAT", 0)),
        ("fixed<16,6>", F(16, 6)),
        ("ufixed<8,3,RND_CONV,WRAP,2>", F(8, 3, False, "RND_CONV", "WRAP", 2)),
        ("ufixed<8,3>", F(8, 3, False)),
        ("int<8>", F(8, 8, True)),
        ("uint<8>", F(8, 8, False)),
        # the two vocabularies mix: AP_ prefixes in hls4ml spellings and vice versa
        ("fixed<16,6,AP_RND,AP_SAT>", F(16, 6, True, "RND", "SAT")),
        ("ap_fixed<16,6,RND,SAT>", F(16, 6, True, "RND", "SAT")),
        # whitespace
        ("  ap_fixed<16,6,AP_RND,AP_SAT,0>\n", F(16, 6, True, "RND", "SAT", 0)),
        ("ap_fixed < 16 , 6 , AP_RND , AP_SAT , 0 >", F(16, 6, True, "RND", "SAT", 0)),
        ("ap_ufixed<\t8,\t3\t>", F(8, 3, False)),
        ("fixed< 16,6, RND ,SAT,0 >", F(16, 6, True, "RND", "SAT", 0)),
        ("ap_int< 8 >", F(8, 8, True)),
        ("\tuint<8> ", F(8, 8, False)),
    ],
)
def test_parse(text, want):
    got = fx.Fixed.parse(text)
    assert got == want
    assert fx.Fixed.parse(got) is got  # a Fixed passes through


def test_parse_mode_case():
    assert fx.Fixed.parse("ap_fixed<8,3,ap_rnd,ap_sat>") == F(8, 3, q="RND", o="SAT")


@pytest.mark.parametrize(
    "fmt, text, hls",
    [
        (F(16, 6, True, "RND", "SAT"), "ap_fixed<16,6,AP_RND,AP_SAT,0>", "fixed<16,6,RND,SAT,0>"),
        (F(16, 6), "ap_fixed<16,6>", "fixed<16,6>"),
        (F(8, 0, False), "ap_ufixed<8,0>", "ufixed<8,0>"),
        (F(8, 8, False), "ap_ufixed<8,8>", "ufixed<8,8>"),
        (F(8, -2, True, "TRN", "WRAP", 2), "ap_fixed<8,-2,AP_TRN,AP_WRAP,2>", "fixed<8,-2,TRN,WRAP,2>"),
        (F(5, 9, False, "STOCH", "SAT_SYM"), "ap_ufixed<5,9,AP_STOCH,AP_SAT_SYM,0>", "ufixed<5,9,STOCH,SAT_SYM,0>"),
    ],
)
def test_print(fmt, text, hls):
    assert str(fmt) == text
    assert fmt.to_hls4ml() == hls


def test_repr():
    fmt = F(16, 6, False, "RND", "SAT")
    assert repr(fmt) == "Fixed(16, 6, signed=False, q='RND', o='SAT', n=0)"
    assert eval(repr(fmt), {"Fixed": fx.Fixed}) == fmt


@settings(max_examples=300, deadline=None)
@given(formats())
def test_print_parse_round_trip(fmt):
    text, hls = str(fmt), fmt.to_hls4ml()
    assert fx.Fixed.parse(text) == fmt
    assert fx.Fixed.parse(hls) == fmt
    # and printing the parsed format gives the same text back (parse . print is the identity)
    assert str(fx.Fixed.parse(text)) == text
    assert fx.Fixed.parse(hls).to_hls4ml() == hls
    # the spellings are what the two tools expect
    assert re.fullmatch(r"ap_u?fixed<\d+,-?\d+(,AP_[A-Z_]+,AP_[A-Z_]+,\d+)?>", text)
    assert re.fullmatch(r"u?fixed<\d+,-?\d+(,[A-Z_]+,[A-Z_]+,\d+)?>", hls)
    assert text.startswith("ap_fixed<" if fmt.signed else "ap_ufixed<")


@settings(max_examples=200, deadline=None)
@given(formats(), st.sampled_from(["", " ", "  ", "\t"]), st.booleans())
def test_parse_tolerates_whitespace(fmt, pad, hls4ml):
    text = fmt.to_hls4ml() if hls4ml else str(fmt)
    spaced = pad + text.replace(",", pad + "," + pad).replace("<", pad + "<" + pad).replace(">", pad + ">") + pad
    assert fx.Fixed.parse(spaced) == fmt


# --------------------------------------------------------------------------------------
# errors: ValueError naming the field, the constraint and the value
# --------------------------------------------------------------------------------------
W_MSG = r"Fixed: w must be in \[1, 1024\] \(ap_fixed's AP_INT_MAX_W\), got w="


@pytest.mark.parametrize("w", [0, -1, -64, 1025, 4096])
def test_bad_width(w):
    with pytest.raises(ValueError, match=W_MSG + re.escape(str(w)) + "$"):
        fx.Fixed(w, 0)


@pytest.mark.parametrize("text, w", [("ap_int<0>", 0), ("ap_fixed<1025,3>", 1025), ("uint<2048>", 2048),
                                     ("fixed<-4,2>", -4)])
def test_bad_width_parsed(text, w):
    with pytest.raises(ValueError, match=W_MSG + re.escape(str(w)) + "$"):
        fx.Fixed.parse(text)


@pytest.mark.parametrize("q", ["FLOOR", "AP_FLOOR", "RND_EVEN", "", "AP_", "SAT"])
def test_unknown_q(q):
    msg = f"Fixed: unknown rounding (q) mode {q!r}; allowed: {ALLOWED_Q} (an 'AP_' prefix is accepted)"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed(8, 3, q=q)


@pytest.mark.parametrize("q", [None, 3, fx.OMode.SAT])
def test_q_of_wrong_type(q):
    with pytest.raises(ValueError, match=re.escape(f"Fixed: unknown rounding (q) mode {q!r}; allowed: {ALLOWED_Q}")):
        fx.Fixed(8, 3, q=q)


@pytest.mark.parametrize("o", ["SATURATE", "AP_CLAMP", "RND", "", None, 1, fx.QMode.RND])
def test_unknown_o(o):
    msg = f"Fixed: unknown overflow (o) mode {o!r}; allowed: {ALLOWED_O} (an 'AP_' prefix is accepted)"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed(8, 3, o=o)


def test_unknown_modes_in_parsed_strings():
    msg = "Fixed: unknown rounding (q) mode 'AP_FLOOR'; allowed: " + ALLOWED_Q
    with pytest.raises(ValueError, match=re.escape(msg)):
        fx.Fixed.parse("ap_fixed<16,6,AP_FLOOR,AP_SAT>")
    with pytest.raises(ValueError, match=re.escape("Fixed: unknown overflow (o) mode 'CLAMP'; allowed: " + ALLOWED_O)):
        fx.Fixed.parse("fixed<16,6,RND,CLAMP>")


@pytest.mark.parametrize("text, char", [
    ("ap_int<\u0661\u0666>", "\u0661"),               # Arabic-Indic digits: Python's \\d and int() read 16
    ("ap_fixed<\uff18,3>", "\uff18"),                  # full-width 8
    ("ap_fixed<8,3,AP_RND,AP_\u017fAT>", "\u017f"),     # long s: 'ſAT'.upper() == 'SAT'
    ("ap_fixed<8,3,AP_RND_MIN_\u0131NF>", "\u0131"),    # dotless i: upper() gives 'INF'
    ("ap_fixed<8,3>\u00a0", "\u00a0"),                 # no-break space: str.strip() removes it
])
def test_parse_refuses_non_ascii(text, char):
    """Found by tests/test_fuzz_api.py: these were read as their ASCII look-alikes."""
    msg = f"Fixed.parse: non-ASCII character {char!r} (U+{ord(char):04X}) in {text!r}"
    with pytest.raises(ValueError, match="^" + re.escape(msg)):
        fx.Fixed.parse(text)


@pytest.mark.parametrize("q, o", [("RND", "\u017fat"), ("\uff32\uff2e\uff24", "SAT"), ("RND_MIN_\u0131NF", "SAT")])
def test_modes_refuse_non_ascii(q, o):
    bad = q if not q.isascii() else o
    field = "rounding (q)" if bad is q else "overflow (o)"
    with pytest.raises(ValueError, match=re.escape(f"Fixed: unknown {field} mode {bad!r}; allowed: ")):
        fx.Fixed(8, 3, q=q, o=o)


@pytest.mark.parametrize("o", ["SAT", "SAT_ZERO", "SAT_SYM"])
@pytest.mark.parametrize("n", [1, 5, 8])
def test_n_with_non_wrap_modes(o, n):
    """ap_fixed.h compiles ap_fixed<8,3,AP_TRN,AP_SAT,N> and never reads N under the saturating
    modes (tests/test_oracle.py compares such types with the compiled header): the format is
    the N = 0 one."""
    want = fx.Fixed(8, 3, o=o)
    assert fx.Fixed(8, 3, o=o, n=n) == want and fx.Fixed(8, 3, o=o, n=n).n == 0
    assert fx.Fixed.parse(f"ap_fixed<8,3,AP_TRN,AP_{o},{n}>") == want
    assert fx.Fixed.parse(f"fixed<8,3,TRN,{o},{n}>") == want
    assert str(fx.Fixed.parse(f"ap_fixed<8,3,AP_TRN,AP_{o},{n}>")) == f"ap_fixed<8,3,AP_TRN,AP_{o},0>"
    with pytest.raises(ValueError, match=re.escape("Fixed: n (saturation bits) must be in [0, w=8], got n=9")):
        fx.Fixed.parse(f"ap_fixed<8,3,AP_TRN,AP_{o},9>")


@pytest.mark.parametrize("o", ["WRAP", "WRAP_SM"])
@pytest.mark.parametrize("w, n", [(8, 9), (8, -1), (1, 2), (64, 65), (3, -100)])
def test_n_out_of_range(o, w, n):
    msg = f"Fixed: n (saturation bits) must be in [0, w={w}], got n={n}"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed(w, 3, o=o, n=n)


def test_n_at_range_limits_is_fine():
    for o in ("WRAP", "WRAP_SM"):
        assert fx.Fixed(8, 3, o=o, n=0).n == 0
        assert fx.Fixed(8, 3, o=o, n=8).n == 8


@pytest.mark.parametrize("n", [0, 1, 4])
def test_wrap_sm_unsigned(n):
    msg = "Fixed: o=WRAP_SM needs a signed format (ap_ufixed rejects AP_WRAP_SM)"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed(8, 3, signed=False, o="WRAP_SM", n=n)
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed.parse(f"ap_ufixed<8,3,AP_RND,AP_WRAP_SM,{n}>")
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed.parse(f"ufixed<8,3,RND,WRAP_SM,{n}>")


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"w": 8.0, "i": 3}, "Fixed: w must be an integer, got 8.0"),
        ({"w": "8", "i": 3}, "Fixed: w must be an integer, got '8'"),
        ({"w": True, "i": 3}, "Fixed: w must be an integer, got True"),
        ({"w": 8, "i": 2.5}, "Fixed: i must be an integer, got 2.5"),
        ({"w": 8, "i": None}, "Fixed: i must be an integer, got None"),
        ({"w": 8, "i": 3, "o": "WRAP", "n": 1.0}, "Fixed: n must be an integer, got 1.0"),
        ({"w": 8, "i": 3, "signed": 1}, "Fixed: signed must be a bool, got 1"),
        ({"w": 8, "i": 3, "signed": "yes"}, "Fixed: signed must be a bool, got 'yes'"),
    ],
)
def test_bad_field_types(kwargs, msg):
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed(**kwargs)


def test_numpy_integers_and_bools_are_accepted():
    np = pytest.importorskip("numpy")
    fmt = fx.Fixed(np.int64(8), np.int8(-3), signed=np.bool_(False), n=np.uint8(2))
    assert fmt == fx.Fixed(8, -3, signed=False, n=2)
    assert type(fmt.w) is int and type(fmt.signed) is bool


PARSE_EXAMPLES = (
    "expected e.g. 'ap_fixed<16,6,AP_RND,AP_SAT,0>', 'ap_ufixed<8,0>', 'ap_int<8>', "
    "'fixed<16,6,RND,SAT>' or 'uint<4>'"
)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ap_fixed",
        "ap_fixed<16,6",
        "ap_fixed16,6>",
        "ap_float<16,6>",
        "ap_fixed<16,6>>",
        "ap_fixed<ap_int<8>,6>",
        "ap_fixed<16,6> x",
        "xap_fixed<16,6>",
        "apfixed<16,6>",
        "ap_ fixed<16,6>",
        "ap_fixed(16,6)",
        "ap_fixed[16,6]",
        "sc_fixed<16,6>",
        "float",
        "ap_fixed<>>",
    ],
)
def test_malformed_strings(text):
    msg = f"Fixed.parse: cannot parse {text!r}; {PARSE_EXAMPLES}"
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed.parse(text)


@pytest.mark.parametrize(
    "text, msg",
    [
        ("ap_fixed<16>", "Fixed.parse: ap_fixed<W,I[,Q[,O[,N]]]> takes 2 to 5 arguments, got 1 in 'ap_fixed<16>'"),
        ("ufixed<16,6,RND,SAT,0,1>",
         "Fixed.parse: ufixed<W,I[,Q[,O[,N]]]> takes 2 to 5 arguments, got 6 in 'ufixed<16,6,RND,SAT,0,1>'"),
        ("ap_int<8,2>", "Fixed.parse: int<W> takes exactly one argument, got 'ap_int<8,2>'"),
        ("uint<8,8,RND>", "Fixed.parse: uint<W> takes exactly one argument, got 'uint<8,8,RND>'"),
        ("ap_fixed<>", "Fixed.parse: empty template argument in 'ap_fixed<>'"),
        ("ap_fixed<16,,6>", "Fixed.parse: empty template argument in 'ap_fixed<16,,6>'"),
        ("ap_fixed<16,6,>", "Fixed.parse: empty template argument in 'ap_fixed<16,6,>'"),
        ("ap_int< >", "Fixed.parse: empty template argument in 'ap_int< >'"),
        ("ap_fixed<a,6>", "Fixed.parse: W must be an integer, got 'a' in 'ap_fixed<a,6>'"),
        ("ap_fixed<16.0,6>", "Fixed.parse: W must be an integer, got '16.0' in 'ap_fixed<16.0,6>'"),
        ("fixed<16,0x6>", "Fixed.parse: I must be an integer, got '0x6' in 'fixed<16,0x6>'"),
        ("ap_fixed<16,6,AP_RND,AP_WRAP,two>",
         "Fixed.parse: N must be an integer, got 'two' in 'ap_fixed<16,6,AP_RND,AP_WRAP,two>'"),
        ("ap_int<8 8>", "Fixed.parse: W must be an integer, got '8 8' in 'ap_int<8 8>'"),
        ("int<W>", "Fixed.parse: W must be an integer, got 'W' in 'int<W>'"),
    ],
)
def test_malformed_arguments(text, msg):
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        fx.Fixed.parse(text)


@pytest.mark.parametrize("value, kind", [(16, "int"), (None, "NoneType"), (b"ap_fixed<16,6>", "bytes"),
                                         (("ap_fixed", 16, 6), "tuple")])
def test_parse_non_string(value, kind):
    with pytest.raises(ValueError, match="^" + re.escape(f"Fixed.parse: expected a type string, got {kind}") + "$"):
        fx.Fixed.parse(value)


# -- the bound on i (issue 22: i near +-2**31 overflowed int arithmetic in the kernels) ---------
Fixed = fx.Fixed
I_BOUND = r"i \(integer bits\) must be in \[-2\*\*20, 2\*\*20\] = \[-1048576, 1048576\]"


@pytest.mark.parametrize("i", [2**20 + 1, -(2**20) - 1, 2**31 - 1, -(2**31), 2**31, 2**63, -(2**64)])
def test_integer_bits_beyond_the_bound_are_refused(i):
    with pytest.raises(ValueError, match=rf"Fixed: {I_BOUND}, got i={i}$"):
        Fixed(16, i)
    with pytest.raises(ValueError, match=rf"Fixed: {I_BOUND}, got i={i}$"):
        Fixed.parse(f"ap_fixed<64,{i}>")
    with pytest.raises(ValueError, match=rf"Fixed: {I_BOUND}"):
        Fixed(8, 0).replace(i=i)


@pytest.mark.parametrize("text", ["ap_fixed<64,-2147483648>", "ap_fixed<11,2147483647>", "ap_ufixed<8,2147483648>"])
def test_integer_bits_beyond_the_bound_parsed(text):
    with pytest.raises(ValueError, match=I_BOUND):
        Fixed.parse(text)


def test_integer_bits_at_the_bound_are_exact():
    assert fx.format.MAX_INT_BITS == 2**20
    for w in (1, 8, 64, 100, 1024):
        for i in (2**20, -(2**20)):
            fmt = Fixed(w, i)
            assert fmt.f == w - i and Fixed.parse(str(fmt)) == fmt
    # values below half an LSB of a far-left format: TRN floors -3.0 to raw -1, RND to 0
    assert fx.array([-3.0, 3.0], Fixed(16, 2**20)).raw.tolist() == [-1, 0]
    assert fx.array([-3.0, 3.0], Fixed(100, 2**20)).raw.tolist() == [-1, 0]
    assert fx.array([-3.0, 3.0], Fixed(16, 2**20, q="RND")).raw.tolist() == [0, 0]
    # one LSB of a far-right format is below every double: 0.0 (the sign kept), exactly
    for w in (8, 100):
        assert fx.from_raw([1, -1], Fixed(w, -(2**20))).to_float().tolist() == [0.0, -0.0]
        assert fx.from_raw([1], Fixed(w, 2**20)).to_float().tolist() == [float("inf")]
    # values saturate / wrap as ap_fixed does
    assert fx.array([1.5], Fixed(8, -(2**20), o="SAT")).raw.tolist() == [127]
    assert fx.array([1.5], Fixed(8, -(2**20))).raw.tolist() == [0]
    assert fx.array([1.5], Fixed(8, 2**20)).raw.tolist() == [0]
    assert fx.array([1.5], Fixed(8, 2**20, q="RND_INF")).raw.tolist() == [0]
    # casts between the two ends
    a = fx.from_raw([1, -5], Fixed(100, -(2**20)))
    assert a.cast(Fixed(8, 2**20, q="RND_INF")).raw.tolist() == [0, 0]
    assert a.cast(Fixed(8, 2**20, o="SAT", q="RND_INF")).raw.tolist() == [0, 0]
    assert a.cast(Fixed(64, -(2**20) + 10)).raw.tolist() == [0, -1]


def test_arithmetic_beyond_the_bound_names_the_result():
    a = fx.from_raw([1], Fixed(8, 2**20))
    with pytest.raises(ValueError, match=r"the exact result of \* needs 2097152 integer bits \(ap_fixed<16,2097152>\), "
                                         r"outside the \[-2\*\*20, 2\*\*20\] bound on i"):
        a * a
    with pytest.raises(ValueError, match=r"fx\.result_format: the exact result of \* needs -2097152 integer bits"):
        fx.result_format("mul", Fixed(8, -(2**20)), Fixed(8, -(2**20)))
    with pytest.raises(ValueError, match=r"the exact result of \+ needs 1048577 integer bits"):
        a + a


@pytest.mark.parametrize("i", [2**20 + 1, -(2**20) - 1, 2**31 - 1, -(2**31)])
def test_core_refuses_integer_bits_beyond_the_bound(i):
    from fixedpoint import _core

    msg = rf"Fixed: {I_BOUND}, got i={i}"
    with pytest.raises(ValueError, match=msg):
        _core.quantize(np.array([1.5]), 8, i, True, 0, 0, 0, 0, False)
    with pytest.raises(ValueError, match=msg):
        _core.to_double(np.array([1], np.int64), 8, i, True)
    with pytest.raises(ValueError, match=msg):
        _core.cast(np.array([1], np.int64), 8, i, True, 8, 0, True, 0, 0, 0, 0)
    with pytest.raises(ValueError, match=msg):
        _core.wide_to_double(np.zeros(2, np.uint64), 1, 100, i, True)
    with pytest.raises(ValueError, match=msg):
        _core.wide_from_double(np.array([1.5]), (100, i, True, 0, 0, 0), 0)


@pytest.mark.parametrize("text,storage", [("ap_fixed<16,6>", "int64 (native C++ kernels)"),
                                          ("ap_fixed<96,2>", "2 64-bit limbs (multi-limb C++ kernels)"),
                                          ("ap_ufixed<1024,0>", "16 64-bit limbs (multi-limb C++ kernels)")])
def test_cli_info_names_the_storage_that_runs(text, storage, capsys):
    """`fixedpoint info` for a wide format names the C++ limb path, not a Python path (issue 21)."""
    from fixedpoint.cli import main

    main(["info", text])
    out = capsys.readouterr().out
    assert re.search(r"^storage\s+" + re.escape(storage) + "$", out, re.M), out
    assert "Python ints" not in out
