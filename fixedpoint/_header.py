"""ap_fixed.h's own integer algorithms where they are not mathematically exact, reproduced step by
step (production code; the operations that follow the header call these).

- :func:`header_udiv` / :func:`header_div_int`: ``ap_private``'s division above 64 bits
  (64-bit words, then 32-bit digits and ``KnuthDiv``), which loses low bits for some operands
  (docs/modes.md, "Division wider than 64 bits").

Checked against the real header by the live oracle (tests/test_oracle.py).
"""

from __future__ import annotations

__all__ = ["header_udiv", "header_div_int"]


def _knuth_div(u: list, v: list, m: int, n: int) -> list:
    """Transliteration of ``ap_private_ops::KnuthDiv`` (etc/ap_private.h), quotient only,
    including its departure from Knuth's algorithm D: when a trial digit is one too large,
    it complements every word of ``u`` (not only ``u[j..j+n]``), which corrupts the dividend
    words not yet consumed."""
    M32 = 0xFFFFFFFF
    b = 1 << 32
    q = [0] * (m + n)
    shift = 32 - v[n - 1].bit_length()
    u_carry = v_carry = 0
    if shift:
        for i in range(m + n):
            t = u[i] >> (32 - shift)
            u[i] = ((u[i] << shift) & M32) | u_carry
            u_carry = t
        for i in range(n):
            t = v[i] >> (32 - shift)
            v[i] = ((v[i] << shift) & M32) | v_carry
            v_carry = t
    u[m + n] = u_carry
    for j in range(m, -1, -1):
        dividend = (u[j + n] << 32) + u[j + n - 1]
        qp, rp = divmod(dividend, v[n - 1])
        if qp == b or qp * v[n - 2] > b * rp + u[j + n - 2]:
            qp -= 1
            rp += v[n - 1]
            if rp < b and (qp == b or qp * v[n - 2] > b * rp + u[j + n - 2]):
                qp -= 1
        is_neg = False
        for i in range(n):
            u_tmp = u[j + i] | (u[j + i + 1] << 32)
            sub = qp * v[i]
            borrow = sub > u_tmp
            res = (u_tmp - sub) & 0xFFFFFFFFFFFFFFFF
            k = j + i
            u[k] = res & M32
            u[k + 1] = res >> 32
            k += 2
            while borrow and k <= m + n:
                borrow = u[k] == 0
                u[k] = (u[k] - 1) & M32
                k += 1
            is_neg |= borrow
        if is_neg:
            carry = 1
            for i in range(m + n + 1):
                u[i] = (~u[i] + carry) & M32
                carry = 1 if (carry and u[i] == 0) else 0
        q[j] = qp & M32
        if is_neg:
            q[j] = (q[j] - 1) & M32
            carry = 0
            for i in range(n):
                limit = min(u[j + i], v[i])
                u[j + i] = (u[j + i] + v[i] + carry) & M32
                carry = 1 if (u[j + i] < limit or (carry and u[j + i] == limit)) else 0
            u[j + n] = (u[j + n] + carry) & M32
    return q


def header_udiv(x: int, y: int, w: int) -> int:
    """``ap_private<w>::udiv`` of the unsigned ``w``-bit patterns ``x`` and ``y`` (``y != 0``).

    For ``w <= 64`` this is the native (exact) division. Above 64 bits the header's
    multi-word path (64-bit words, then 32-bit digits and ``KnuthDiv``) is reproduced
    step by step; it is exact except when a trial quotient digit is one too large and lower
    dividend words remain, where it loses low bits (see :func:`_knuth_div`).
    """
    if y == 0:
        raise ZeroDivisionError("fixed-point division by zero")
    if w <= 64:
        return x // y
    rhs_words = (y.bit_length() + 63) // 64
    lhs_words = (x.bit_length() + 63) // 64
    if lhs_words == 0 or lhs_words < rhs_words or x < y:
        return 0
    if x == y:
        return 1
    if lhs_words == 1 and rhs_words == 1:
        return x // y
    n = rhs_words * 2
    m = lhs_words * 2 - n
    u = [(x >> (32 * k)) & 0xFFFFFFFF for k in range(m + n)] + [0]
    v = [(y >> (32 * k)) & 0xFFFFFFFF for k in range(n)]
    i = n
    while i > 0 and v[i - 1] == 0:
        n -= 1
        m += 1
        i -= 1
    i = m + n
    while i > 0 and u[i - 1] == 0:
        m -= 1
        i -= 1
    if n == 1:
        return x // y  # short division: exact
    q = _knuth_div(u, v[:n] + [0] * 0, m, n)
    out = 0
    for k in range(min(len(q), 2 * lhs_words)):
        out |= q[k] << (32 * k)
    return out & ((1 << w) - 1)


def header_div_int(num: int, den: int, w: int, signed: bool) -> int:
    """The ``w``-bit quotient (wrapped) of the integers ``num`` / ``den`` as ``ap_private``'s
    ``sdiv`` (signed) or ``udiv`` computes it, toward zero."""
    mask = (1 << w) - 1
    if not signed:
        return header_udiv(num & mask, den & mask, w)
    neg = (num < 0) != (den < 0)
    mag = header_udiv(abs(num) & mask, abs(den) & mask, w)
    v = (-mag if neg else mag) & mask
    return v - (1 << w) if v >> (w - 1) else v
