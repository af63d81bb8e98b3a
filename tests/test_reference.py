"""Unit tests of the pure-Python reference model ``fixedpoint._reference``.

Small hand-checkable examples per rounding and overflow mode, the from-double quirks,
STOCH, plus a cross-check against a literal transliteration of the header's conversion
code (exhaustive for all formats up to 4 bits, random for wide ones).
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import _golden

ref = _golden.reference()

# --------------------------------------------------------------------------------------
# rounding
# --------------------------------------------------------------------------------------
#                 5/2  -5/2  3/2  -3/2  7/4  -7/4  1/4  -1/4   2   -2
RATIOS = [(5, 2), (-5, 2), (3, 2), (-3, 2), (7, 4), (-7, 4), (1, 4), (-1, 4), (2, 1), (-2, 1)]
EXPECTED_ROUNDING = {
    "TRN":         [2, -3, 1, -2, 1, -2, 0, -1, 2, -2],
    "TRN_ZERO":    [2, -2, 1, -1, 1, -1, 0, 0, 2, -2],
    "RND":         [3, -2, 2, -1, 2, -2, 0, 0, 2, -2],
    "RND_ZERO":    [2, -2, 1, -1, 2, -2, 0, 0, 2, -2],
    "RND_MIN_INF": [2, -3, 1, -2, 2, -2, 0, 0, 2, -2],
    "RND_INF":     [3, -3, 2, -2, 2, -2, 0, 0, 2, -2],
    "RND_CONV":    [2, -2, 2, -2, 2, -2, 0, 0, 2, -2],
}


@pytest.mark.parametrize("q", list(EXPECTED_ROUNDING))
def test_round_ratio_table(q):
    got = [ref.round_ratio(num, den, q) for num, den in RATIOS]
    assert got == EXPECTED_ROUNDING[q]


@pytest.mark.parametrize("q", list(EXPECTED_ROUNDING))
def test_rounding_through_cast_matches_table(q):
    # value = num/den LSBs of ap_fixed<8,4> (F=4), given as an ap_fixed<16,4> source (F=12)
    for (num, den), exp in zip(RATIOS, EXPECTED_ROUNDING[q]):
        src = num * (1 << 8) // den
        assert ref.cast_raw(src, 16, 4, True, 8, 4, True, q, "SAT") == exp


def test_rounding_from_double_worked_examples():
    # ap_fixed<8,4>: lsb = 1/16; 1/32 is an exact half LSB
    assert ref.from_double(1 / 32, 8, 4, True, "RND") == 1
    assert ref.from_double(1 / 32, 8, 4, True, "RND_CONV") == 0
    assert ref.from_double(3 / 32, 8, 4, True, "RND_CONV") == 2
    assert ref.from_double(-1 / 32, 8, 4, True, "RND") == 0
    assert ref.from_double(-1 / 32, 8, 4, True, "RND_INF") == -1
    assert ref.from_double(-1 / 32, 8, 4, True, "TRN") == -1
    assert ref.from_double(-1 / 32, 8, 4, True, "TRN_ZERO") == 0
    # one double ulp above the tie rounds up in every nearest mode
    above = math.nextafter(-1 / 32, 0.0)  # slightly less negative than -half
    for q in ("RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV"):
        assert ref.from_double(above, 8, 4, True, q) == 0
        assert ref.from_double(math.nextafter(-1 / 32, -1.0), 8, 4, True, q) == -1
    # 1.75 into ap_fixed<4,2> (F=2) is exact; 1.8 is not
    assert ref.from_double(1.75, 4, 2, True) == 7
    assert ref.from_double(1.8, 4, 2, True, "TRN") == 7  # 7.2 LSB


def test_exact_values_untouched_by_every_mode():
    for q in ref.Q_MODES:
        for v in (-8, -3, 0, 5, 7):
            assert ref.from_int(v, 4, 4, True, q, "SAT") == v


# --------------------------------------------------------------------------------------
# overflow: ap_fixed<4,4> (range -8..7) and ap_ufixed<4,4> (0..15), TRN
# --------------------------------------------------------------------------------------
INPUTS = (9, -9, -8, 7, -20, 20, 17)
EXPECTED_SIGNED = {
    ("WRAP", 0):    [-7, 7, -8, 7, -4, 4, 1],
    ("SAT", 0):     [7, -8, -8, 7, -8, 7, 7],
    ("SAT_ZERO", 0): [0, 0, -8, 7, 0, 0, 0],
    ("SAT_SYM", 0): [7, -7, -7, 7, -7, 7, 7],  # exact min -8 -> -7 too
    ("WRAP", 1):    [1, -1, -8, 7, -4, 4, 1],   # sign bit := (R < 0)
    ("WRAP", 2):    [5, -5, -8, 7, -8, 4, 5],   # and the next bit := (R >= 0)
    ("WRAP_SM", 0): [6, -8, -8, 7, 3, -5, -2],
    ("WRAP_SM", 1): [6, -8, -8, 7, -4, 4, 1],
    ("WRAP_SM", 2): [6, -8, -8, 7, -5, 4, 6],
}


@pytest.mark.parametrize("mode", list(EXPECTED_SIGNED), ids=lambda m: f"{m[0]}-{m[1]}")
def test_overflow_signed(mode):
    o, n = mode
    assert [ref.from_int(v, 4, 4, True, "TRN", o, n) for v in INPUTS] == EXPECTED_SIGNED[mode]


def test_overflow_worked_by_hand():
    # WRAP n=0: 9 = 0b1001 -> -7
    assert ref.from_int(9, 4, 4, True) == -7
    # WRAP n=2: 9 mod 16 = 0b1001; bit3 := 0, bit2 := 1 -> 0b0101 = 5
    assert ref.from_int(9, 4, 4, True, "TRN", "WRAP", 2) == 5
    # WRAP_SM n=0: 9 = 0b01001, lD = bit4 = 0 != sign 1 -> invert 0b0110 -> 6
    assert ref.from_int(9, 4, 4, True, "TRN", "WRAP_SM", 0) == 6


def test_overflow_unsigned():
    vals = (17, -3, -1, 5, 20)
    assert [ref.from_int(v, 4, 4, False, "TRN", "WRAP", 0) for v in vals] == [1, 13, 15, 5, 4]
    assert [ref.from_int(v, 4, 4, False, "TRN", "SAT", 0) for v in vals] == [15, 0, 0, 5, 15]
    assert [ref.from_int(v, 4, 4, False, "TRN", "SAT_SYM", 0) for v in vals] == [15, 0, 0, 5, 15]
    assert [ref.from_int(v, 4, 4, False, "TRN", "SAT_ZERO", 0) for v in vals] == [0, 0, 0, 5, 0]
    # README quirk 2: the top n bits are set also for negative (underflowing) values
    assert [ref.from_int(v, 4, 4, False, "TRN", "WRAP", 1) for v in vals] == [9, 13, 15, 5, 12]
    assert [ref.from_int(v, 4, 4, False, "TRN", "WRAP", 2) for v in vals] == [13, 13, 15, 5, 12]


def test_sat_sym_one_bit_quirk():
    # README quirk 3: ap_fixed<1,1,TRN,SAT_SYM> (range -1..0): underflow gives raw -1, and the
    # exact minimum stays -1 (the symmetric bound -max would be 0)
    assert [ref.from_int(v, 1, 1, True, "TRN", "SAT_SYM") for v in (-5, -1, 0, 3)] == [-1, -1, 0, 0]
    assert ref.from_int(-5, 2, 2, True, "TRN", "SAT_SYM") == -1  # w=2: -max = -1 < min -2


def test_wrap_sm_sign_from_source_bit_before_rounding():
    # README quirk 4: 15.5 (ap_fixed<8,6> raw 62) into ap_fixed<4,4,RND,WRAP_SM>: R = 16 overflows.
    # The new sign is bit 4 of floor(15.5) = 0b01111, i.e. 0, and 16 mod 16 = 0 already has
    # sign 0, so the result is 0 (taking bit 4 of the rounded 0b10000 would give -1).
    assert ref.cast_raw(62, 8, 6, True, 4, 4, True, "RND", "WRAP_SM", 0) == 0


def test_stoch_then_overflow():
    # 7.5 into ap_fixed<4,4>: STOCH gives 7 or 8; 8 overflows
    outs = {ref.cast_raw(15, 8, 7, True, 4, 4, True, "STOCH", "SAT", index=k) for k in range(64)}
    assert outs == {7}
    outs = {ref.cast_raw(15, 8, 7, True, 4, 4, True, "STOCH", "WRAP", index=k) for k in range(64)}
    assert outs == {7, -8}


# --------------------------------------------------------------------------------------
# from_double quirks
# --------------------------------------------------------------------------------------
def test_double_to_source_normal():
    assert ref.double_to_source(1.0) == (1 << 52, 54, 2, True)
    assert ref.double_to_source(-3.0) == (-(3 << 51), 54, 3, True)
    raw, w, i, s = ref.double_to_source(0.1)
    assert ref.value_of(raw, w, i) == Fraction(0.1)


def test_from_double_subnormal_quirk():
    # the implicit bit is set for subnormals: 2**-1074 (mantissa field 1) is read as
    # (1 + 2**-52) * 2**-1023, and 2**-1023 (mantissa 0.1b) as 1.5 * 2**-1023.
    # ap_fixed<8,-1020> has F = 1028, so 2**-1023 is 32 LSB.
    assert ref.from_double(5e-324, 8, -1020, True) == 32  # 32 + 2**-47 LSB, floor
    assert ref.from_double(5e-324, 8, -1020, True, "RND") == 32
    assert ref.from_double(-5e-324, 8, -1020, True) == -33  # floor of -(32 + 2**-47)
    assert ref.from_double(-5e-324, 8, -1020, True, "TRN_ZERO") == -32
    assert ref.from_double(2.0**-1023, 8, -1020, True) == 48
    assert ref.double_to_source(5e-324) == ((1 << 52) + 1, 54, -1021, True)
    assert ref.from_double(2.0**-1022, 8, -1020, True) == 64  # smallest normal: exact


def test_from_double_nan_quirk():
    nan = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        ref.from_double(nan, 16, 6, True)
    # nan="ap": NaN (0x7ff8...) is read as 1.5 * 2**1024
    assert ref.from_double(nan, 16, 6, True, "TRN", "SAT", nan="ap") == 2**15 - 1
    assert ref.from_double(-nan, 16, 6, True, "TRN", "SAT", nan="ap") == -(2**15)
    assert ref.from_double(nan, 16, 6, True, "TRN", "WRAP", nan="ap") == 0
    assert ref.from_double(nan, 8, 1030, True, nan="ap") == 6  # 1.5 * 2**1024 / 2**1022
    with pytest.raises(ValueError):
        ref.from_double(1.0, 8, 4, True, nan="ignore")


def test_from_double_inf_quirk():
    inf = float("inf")
    assert ref.from_double(inf, 16, 6, True, "TRN", "SAT") == 2**15 - 1
    assert ref.from_double(-inf, 16, 6, True, "TRN", "SAT") == -(2**15)
    assert ref.from_double(-inf, 16, 6, False, "TRN", "SAT") == 0
    assert ref.from_double(inf, 16, 6, True) == 0  # WRAP: 2**1034 mod 2**16
    # ap_fixed<8,1030> has LSB 2**1022: inf reads as 2**1024 = 4 LSB (a finite value)
    assert ref.from_double(inf, 8, 1030, True) == 4
    assert ref.from_double(-inf, 8, 1030, True) == -4


@pytest.mark.parametrize("q", ref.Q_MODES)
@pytest.mark.parametrize("o,n", [("WRAP", 0), ("WRAP", 2), ("SAT", 0), ("SAT_SYM", 0), ("SAT_ZERO", 0)])
def test_from_double_signed_zeros(q, o, n):
    for x in (0.0, -0.0):
        assert ref.from_double(x, 8, 4, True, q, o, n) == 0
        assert ref.from_double(x, 8, 4, False, q, o, n) == 0
        assert ref.from_double(x, 3, -5, False, q, o, n) == 0
    assert ref.double_to_source(-0.0)[0] == 0


def test_from_int_and_quantize():
    assert ref.from_int(5, 8, 8, True) == 5
    assert ref.from_int(-1, 8, 4, True) == -16
    assert ref.from_int(2**100 + 1, 8, 8, False, "TRN", "SAT") == 255
    assert ref.from_int(3, 4, 6, True, "RND") == 1  # LSB = 4: 0.75 -> 1
    assert ref.quantize(Fraction(-5, 2), 4, 4, True, "RND_CONV") == -2
    assert ref.quantize(0.375, 8, 4, True) == 6


# --------------------------------------------------------------------------------------
# to_double
# --------------------------------------------------------------------------------------
def test_to_double():
    assert ref.to_double(6, 8, 4, True) == 0.375
    assert ref.to_double(-128, 8, 4, True) == -8.0
    assert ref.to_double(255, 8, 4, False) == 15.9375
    assert ref.to_double(3, 4, 10, True) == 192.0  # LSB = 2**6
    # round-half-even beyond 53 bits
    assert ref.to_double(2**53 + 1, 60, 60, False) == 2.0**53
    assert ref.to_double(2**53 + 3, 60, 60, False) == 2.0**53 + 4
    assert ref.to_double(-(2**53) - 1, 60, 60, True) == -(2.0**53)
    assert ref.to_double(1, 8, 2000, True) == math.inf
    assert ref.to_double(0, 8, 4, True) == 0.0


# --------------------------------------------------------------------------------------
# STOCH
# --------------------------------------------------------------------------------------
def test_splitmix64_constants():
    # the finalizer is SplitMix64's: state 0 gives these first two outputs
    assert ref._mix64(ref.GAMMA) == 0xE220A8397B1DCDAF
    assert ref._mix64((2 * ref.GAMMA) & ref.M64) == 0x6E789E6AA1B965F4
    # pinned values of the keyed stream (the C++ core must produce the same bits)
    assert ref.stoch_bits(0, 0) == 0x93118A61ED9E9E14
    assert ref.stoch_bits(42, 7) == 0x30264F0B6A70ECF2


def test_stoch_bits_deterministic_and_distinct():
    a = [ref.stoch_bits(123, k) for k in range(1000)]
    assert a == [ref.stoch_bits(123, k) for k in range(1000)]
    assert len(set(a)) == 1000
    assert a != [ref.stoch_bits(124, k) for k in range(1000)]
    assert all(0 <= u < 2**64 for u in a)


def test_stoch_threshold():
    assert ref.stoch_threshold(0) == 0
    assert ref.stoch_threshold(Fraction(1, 2)) == 2**63
    assert ref.stoch_threshold(Fraction(1, 3)) == 2**64 // 3 + 1
    assert ref.stoch_threshold(Fraction(1, 2**100)) == 1  # any nonzero fraction can round up
    assert ref.stoch_threshold(1 - Fraction(1, 2**100)) == 2**64
    with pytest.raises(ValueError):
        ref.stoch_threshold(1)


def test_stoch_rule_u_less_than_t():
    seed = 7
    for index in range(50):
        u = ref.stoch_bits(seed, index)
        if u == 0 or u == 2**64 - 1:
            continue
        # value = 3 + T / 2**64 with T = u + 1 (rounds up) and T = u (does not)
        assert ref.round_ratio(3 * 2**64 + u + 1, 2**64, "STOCH", seed=seed, index=index) == 4
        assert ref.round_ratio(3 * 2**64 + u, 2**64, "STOCH", seed=seed, index=index) == 3
        assert ref.round_ratio(-(2**64) + u, 2**64, "STOCH", seed=seed, index=index) == -1


def test_stoch_frac_zero_never_rounds():
    for index in range(500):
        for v in (-3, 0, 5):
            assert ref.from_int(v, 8, 8, True, "STOCH", seed=99, index=index) == v
        assert ref.cast_raw(40, 8, 4, True, 8, 6, True, "STOCH", seed=index, index=index) == 10


def test_stoch_is_deterministic():
    args = (Fraction(13, 10), 8, 8, True, "STOCH", "WRAP", 0)
    a = [ref.quantize(*args, seed=5, index=k) for k in range(200)]
    assert a == [ref.quantize(*args, seed=5, index=k) for k in range(200)]
    assert set(a) == {1, 2}
    assert a != [ref.quantize(*args, seed=6, index=k) for k in range(200)]


@pytest.mark.parametrize("value", [Fraction(13, 10), Fraction(-7, 3), Fraction(1, 100), Fraction(99, 10)])
def test_stoch_unbiased(value):
    """Mean of STOCH-rounded values over N indices equals the exact value within 5 sigma.

    Each result is floor(v) + Bernoulli(p = frac(v)), so the mean's standard deviation is
    sqrt(p (1 - p) / N); with N = 4000 and a fixed seed the check is deterministic and the
    bound is 5 sigma (plus 1/N slack for p near 0).
    """
    n = 4000
    outs = [ref.quantize(value, 16, 16, True, "STOCH", seed=2024, index=k) for k in range(n)]
    p = float(value - math.floor(value))
    assert set(outs) <= {math.floor(value), math.floor(value) + 1}
    mean = sum(outs) / n
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(mean - float(value)) <= 5 * sigma + 1 / n


def test_stoch_unbiased_cast():
    # ap_fixed<16,8> raw 77 = 0.30078125 into ap_fixed<8,8,STOCH>: 0 or 1, mean = 77/256
    n = 4000
    outs = [ref.cast_raw(77, 16, 8, True, 8, 8, True, "STOCH", seed=1, index=k) for k in range(n)]
    p = 77 / 256
    assert abs(sum(outs) / n - p) <= 5 * math.sqrt(p * (1 - p) / n)


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------
def test_validation():
    with pytest.raises(ValueError):
        ref.cast_raw(0, 8, 4, True, 8, 4, True, "ROUND")
    with pytest.raises(ValueError):
        ref.cast_raw(0, 8, 4, True, 8, 4, True, "TRN", "SATURATE")
    with pytest.raises(ValueError):
        ref.cast_raw(0, 8, 4, True, 8, 4, False, "TRN", "WRAP_SM")
    with pytest.raises(ValueError):
        ref.cast_raw(128, 8, 4, True, 8, 4, True)  # src_raw out of range
    with pytest.raises(ValueError):
        ref.cast_raw(-1, 8, 4, False, 8, 4, True)
    with pytest.raises(ValueError):
        ref.cast_raw(0, 8, 4, True, 0, 4, True)
    with pytest.raises(ValueError):
        ref.cast_raw(0, 8, 4, True, 4, 4, True, "TRN", "WRAP", 5)
    assert ref.cast_raw(9, 8, 8, True, 4, 4, True, "AP_TRN", "AP_SAT") == 7


# --------------------------------------------------------------------------------------
# cross-check against a literal transliteration of the header
# --------------------------------------------------------------------------------------
def _header_cast(op, W2, I2, S2, W, I, S, Q, O, N):
    """``ap_fixed_base::operator=(const ap_fixed_base<W2,I2,S2>&)`` line by line, with
    ``quantization_adjust`` and ``overflow_adjust`` inlined (hls4ml's ap_fixed_base.h).
    ``op`` is the sign-extended stored value; returns the stored value of the result."""

    def bit(v, k):
        return (v >> k) & 1

    def rng(v, lo, hi):
        return (v >> lo) & ((1 << (hi - lo + 1)) - 1)

    def set_range(v, lo, hi, ones):
        m = ((1 << (hi - lo + 1)) - 1) << lo if hi >= lo else 0
        return v | m if ones else v & ~m

    M = (1 << W) - 1
    F, F2 = W - I, W2 - I2
    QUAN_INC = F2 > F and not (Q == "TRN" or (Q == "TRN_ZERO" and not S2))
    opv = op & ((1 << W2) - 1)
    carry = False
    signbit = bit(opv, W2 - 1)
    isneg = bool(signbit and S2)
    if F2 == F:
        V = op & M
    elif F2 > F:
        sh = F2 - F
        V = (op >> sh) & M if sh < W2 else (M if isneg else 0)
        if Q != "TRN" and not (Q == "TRN_ZERO" and not S2):
            qb = bool(S2 and signbit) if sh > W2 else bool(bit(op, sh - 1))
            hi = sh - 2 if sh - 2 < W2 else W2 - 1
            r = rng(opv, 0, hi) != 0 if sh > 1 else False
            c0 = bit(V, W - 1)
            s = isneg
            if Q == "RND_ZERO":
                qb = qb and (s or r)
            elif Q == "RND_MIN_INF":
                qb = qb and r
            elif Q == "RND_INF":
                qb = qb and (not s or r)
            elif Q == "RND_CONV":
                qb = qb and (bit(V, 0) or r)
            elif Q == "TRN_ZERO":
                qb = s and (qb or r)
            V = (V + int(bool(qb))) & M
            carry = bool(c0) and not bit(V, W - 1)
    else:
        V = (op << (F - F2)) & M if F - F2 < W else 0
    if (O != "WRAP" or N != 0) and (
        (not S and S2) or I - S < I2 - S2 + int(QUAN_INC or (S2 and O == "SAT_SYM"))
    ):
        deleted_zeros = True if S2 else not carry
        deleted_ones = True
        neg_src = isneg
        newsignbit = bit(V, W - 1)
        pos1 = F2 - F + W
        pos2 = pos1 + 1
        lD = bit(opv, pos1) if 0 <= pos1 < W2 else 0
        if pos1 < W2:
            r1o = r1z = r2o = True
            ones = (1 << W2) - 1
            if 0 <= pos2 < W2:
                r2o = rng(opv, pos2, W2 - 1) == (ones >> pos2)
            elif pos2 < 0:
                r2o = False
            if pos1 >= 0 and pos2 < W2:
                r1o = rng(opv, pos1, W2 - 1) == (ones >> pos1)
                r1z = rng(opv, pos1, W2 - 1) == 0
            elif pos2 == W2:
                r1o, r1z = bool(lD), not lD
            elif pos1 < 0:
                r1z, r1o = opv == 0, False
            deleted_zeros = deleted_zeros and (r1o if carry else r1z)
            deleted_ones = (r2o and (pos1 < 0 or not lD)) if carry else r1o
            neg_src = isneg and not (carry and r1o)
        else:
            neg_src = isneg and bool(newsignbit)
        neg_trg = S and bool(newsignbit)
        overflow = (neg_trg or not deleted_zeros) and not isneg
        underflow = (not neg_trg or not deleted_ones) and neg_src
        if O == "SAT_SYM" and S2 and S:
            underflow = underflow or (neg_src and (rng(V, 0, W - 2) == 0 if W > 1 else True))
        sign = neg_src
        if underflow or overflow:  # overflow_adjust
            if O == "WRAP":
                if S:
                    V = V | (1 << (W - 1)) if sign else V & ~(1 << (W - 1))
                    if N > 1:
                        V = set_range(V, W - N, W - 2, not sign)
                else:
                    V = set_range(V, W - N, W - 1, True)
            elif O == "SAT_ZERO":
                V = 0
            elif O == "WRAP_SM":
                Ro = bit(V, W - 1)
                if N == 0:
                    if lD != Ro:
                        V = ~V & M
                        V = V | (1 << (W - 1)) if lD else V & ~(1 << (W - 1))
                else:
                    if N == 1 and int(sign) != Ro:
                        V = ~V & M
                    elif N > 1:
                        if bit(V, W - N) == int(sign):
                            V = ~V & M
                        V = set_range(V, W - N, W - 2, not sign)
                    V = V | (1 << (W - 1)) if sign else V & ~(1 << (W - 1))
            elif S:
                if overflow:
                    V = M >> 1
                elif underflow:
                    V = (1 << (W - 1)) | (1 if O == "SAT_SYM" else 0)
            else:
                V = M if overflow else 0
    return V - (1 << W) if S and bit(V, W - 1) else V


NEAREST_AND_TRN = [q for q in ref.Q_MODES if q != "STOCH"]


def _modes(w, signed):
    out = [("SAT", 0), ("SAT_ZERO", 0), ("SAT_SYM", 0)]
    out += [("WRAP", n) for n in range(w + 1)]
    if signed:
        out += [("WRAP_SM", n) for n in range(w + 1)]
    return out


@pytest.mark.parametrize("q", NEAREST_AND_TRN)
def test_reference_equals_header_exhaustive_small(q):
    """Every source/destination format with W <= 4, I in [-2, W+2], all modes, all values."""
    mismatches = []
    for w2 in range(1, 5):
        for s2 in (False, True):
            lo, hi = ref.raw_range(w2, s2)
            for i2 in range(-2, w2 + 3):
                for w in range(1, 5):
                    for s in (False, True):
                        for i in range(-2, w + 3):
                            for o, n in _modes(w, s):
                                for raw in range(lo, hi + 1):
                                    a = ref.cast_raw(raw, w2, i2, s2, w, i, s, q, o, n)
                                    b = _header_cast(raw, w2, i2, s2, w, i, s, q, o, n)
                                    if a != b:
                                        mismatches.append((raw, w2, i2, s2, w, i, s, q, o, n, a, b))
    assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:5]}"


@st.composite
def _cast_case(draw):
    w2 = draw(st.one_of(st.integers(1, 12), st.integers(1, 140)))
    s2 = draw(st.booleans())
    i2 = draw(st.integers(-20, w2 + 20))
    w = draw(st.one_of(st.integers(1, 12), st.integers(1, 140)))
    s = draw(st.booleans())
    i = draw(st.integers(-20, w + 20))
    q = draw(st.sampled_from(NEAREST_AND_TRN))
    o, n = draw(st.sampled_from(_modes(min(w, 3), s)))
    lo, hi = ref.raw_range(w2, s2)
    raw = draw(st.one_of(st.sampled_from([lo, hi, 0, lo + 1 if lo < hi else lo, hi - 1 if hi > lo else hi]),
                         st.integers(lo, hi)))
    # aim at ties / near ties at the destination LSB when the source is finer
    sh = (w2 - i2) - (w - i)
    if sh >= 1 and draw(st.booleans()):
        k = draw(st.integers(-(1 << 12), 1 << 12))
        raw = (k << sh) + (1 << (sh - 1)) + draw(st.sampled_from([-1, 0, 0, 1]))
        raw = max(lo, min(hi, raw))
    return raw, w2, i2, s2, w, i, s, q, o, n


@settings(max_examples=1000, deadline=None)
@given(_cast_case())
def test_reference_equals_header_random_wide(case):
    assert ref.cast_raw(*case) == _header_cast(*case)
