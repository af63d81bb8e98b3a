"""Live ap_fixed oracle: a small C++ program built against the real headers.

The `hls4ml` wheel ships Xilinx's `ap_fixed.h` & co. under
``hls4ml/templates/vivado/ap_types/``. This module generates a C++ harness for a
fixed list of formats (``FORMATS``) and cast pairs (``CAST_PAIRS``), compiles it
with g++ once, caches the binary, and talks to it over a line protocol.

Everything here is plain Python (no pytest, no fixedpoint), so it can be used by
hand::

    python tests/oracle/harness.py list                 # formats and cast pairs
    python tests/oracle/harness.py d 0 1.5 -0.25 nan    # double -> FORMATS[0]
    python tests/oracle/harness.py c 7 -129 5           # src raws -> CAST_PAIRS[7]

Adding a format: append to ``FORMATS`` (widths up to AP_INT_MAX_W = 1024 work;
raw values travel as decimal strings, sign-extended for signed types). Cast
pairs are derived from the formats by ``_cast_sources``; explicit extra pairs
can be appended to ``CAST_PAIRS``. The cache key covers the generated source,
so the binary is rebuilt automatically.

Cache: ``$FIXEDPOINT_ORACLE_CACHE`` or ``~/.cache/fixedpoint/oracle/``; the
binary is keyed by a hash of (generated sources, header directory contents,
compiler version, flags).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

HERE = Path(__file__).resolve().parent
COMMON_HEADER = HERE / "oracle_common.h"

Q_MODES = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV")
O_MODES = ("SAT", "SAT_ZERO", "SAT_SYM", "WRAP", "WRAP_SM")

# -O1 as asked; -DNDEBUG because the headers assert in ap_private::get_bit when a
# cast reads the rounding bit beyond the source width (F_src - F_dst > W_src,
# q not TRN); the golden vectors record the value computed with assertions off,
# and the read bit is unused then. NDEBUG also silences _AP_WARNING (NaN etc.).
CXX_FLAGS = ("-std=c++17", "-O1", "-DNDEBUG", "-w")


class Fmt(NamedTuple):
    """Destination type ap_[u]fixed<w, i, AP_q, AP_o, n>."""

    w: int
    i: int
    signed: bool
    q: str = "TRN"
    o: str = "WRAP"
    n: int = 0

    @property
    def f(self) -> int:
        return self.w - self.i

    @property
    def raw_min(self) -> int:
        return -(1 << (self.w - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.w - 1)) - 1 if self.signed else (1 << self.w) - 1

    def cpp(self) -> str:
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.w}, {self.i}, AP_{self.q}, AP_{self.o}, {self.n}>"

    def __str__(self) -> str:
        s = "fixed" if self.signed else "ufixed"
        return f"{s}<{self.w},{self.i},{self.q},{self.o},{self.n}>"


class Src(NamedTuple):
    """Cast source type ap_[u]fixed<w, i> (default modes TRN/WRAP/0)."""

    w: int
    i: int
    signed: bool

    @property
    def f(self) -> int:
        return self.w - self.i

    @property
    def raw_min(self) -> int:
        return -(1 << (self.w - 1)) if self.signed else 0

    @property
    def raw_max(self) -> int:
        return (1 << (self.w - 1)) - 1 if self.signed else (1 << self.w) - 1

    def cpp(self) -> str:
        return f"{'ap_fixed' if self.signed else 'ap_ufixed'}<{self.w}, {self.i}>"

    def __str__(self) -> str:
        return f"{'fixed' if self.signed else 'ufixed'}<{self.w},{self.i}>"


class CastPair(NamedTuple):
    src: Src
    dst: int  # index into FORMATS


# A few dozen destination formats. Together they cover every rounding mode and
# every overflow mode, n in {0,1,2} for WRAP and WRAP_SM, n > 0 with the SAT modes, signed and unsigned
# (WRAP_SM only signed: the headers reject ap_ufixed + AP_WRAP_SM), widths
# 1..1024 with w=1, w=64, the limb boundaries 65/127/128/129, I<0, I=0, I>W
# (raw I/O is decimal, so every width uses the same code).
FORMATS: tuple[Fmt, ...] = (
    # --- signed -------------------------------------------------------------
    Fmt(8, 3, True, "RND", "SAT"),
    Fmt(8, 3, True, "TRN", "WRAP"),
    Fmt(16, 6, True, "RND_CONV", "SAT_SYM"),
    Fmt(16, 6, True, "RND_ZERO", "WRAP_SM", 0),
    Fmt(12, 4, True, "RND_MIN_INF", "WRAP", 1),
    Fmt(12, 4, True, "RND_INF", "WRAP", 2),
    Fmt(10, 2, True, "TRN_ZERO", "SAT_ZERO"),
    Fmt(18, 8, True, "RND", "WRAP"),
    Fmt(1, 1, True, "RND", "SAT"),                 # w = 1
    Fmt(1, 1, True, "TRN", "SAT_SYM"),             # w = 1 SAT_SYM quirk
    Fmt(1, 0, True, "RND_CONV", "WRAP", 1),        # w = 1, I = 0
    Fmt(2, 2, True, "RND", "WRAP_SM", 0),
    Fmt(2, 5, True, "RND_INF", "WRAP_SM", 1),      # I > W
    Fmt(4, -2, True, "RND_CONV", "SAT"),           # I < 0
    Fmt(5, -4, True, "TRN", "SAT"),
    Fmt(6, 0, True, "TRN_ZERO", "WRAP_SM", 2),     # I = 0
    Fmt(3, 3, True, "RND_MIN_INF", "SAT_SYM"),
    Fmt(7, 9, True, "RND_ZERO", "SAT_ZERO"),       # I > W
    Fmt(24, 8, True, "RND_CONV", "WRAP_SM", 2),
    Fmt(32, 40, True, "TRN_ZERO", "WRAP", 1),      # I > W
    Fmt(53, 20, True, "RND_ZERO", "WRAP", 2),
    Fmt(54, 1, True, "RND_MIN_INF", "SAT_ZERO"),
    Fmt(64, 32, True, "RND", "SAT"),               # w = 64
    Fmt(64, 64, True, "TRN", "WRAP"),              # int64
    Fmt(64, 10, True, "RND_CONV", "WRAP_SM", 1),
    Fmt(64, -3, True, "RND_INF", "SAT_SYM"),
    Fmt(64, 66, True, "TRN_ZERO", "WRAP", 2),
    # --- unsigned -----------------------------------------------------------
    Fmt(8, 3, False, "RND", "SAT"),
    Fmt(8, 0, False, "TRN", "WRAP"),
    Fmt(12, 4, False, "RND_CONV", "WRAP", 1),      # unsigned WRAP n>0 quirk
    Fmt(12, 4, False, "RND_INF", "WRAP", 2),
    Fmt(16, 6, False, "RND_MIN_INF", "SAT_SYM"),
    Fmt(16, 16, False, "RND_ZERO", "SAT_ZERO"),
    Fmt(1, 1, False, "RND", "SAT"),                # w = 1
    Fmt(1, -1, False, "TRN_ZERO", "WRAP", 1),      # w = 1, I < 0
    Fmt(2, 0, False, "RND_INF", "WRAP", 1),
    Fmt(3, 8, False, "TRN_ZERO", "SAT_SYM"),       # I > W
    Fmt(4, -3, False, "RND_ZERO", "SAT"),          # I < 0
    Fmt(33, 1, False, "RND_CONV", "WRAP", 2),
    Fmt(53, 53, False, "RND_MIN_INF", "WRAP"),
    Fmt(64, 32, False, "RND_CONV", "SAT"),         # w = 64
    Fmt(64, 64, False, "TRN", "WRAP"),             # uint64: raw up to 2^64-1
    Fmt(64, 70, False, "RND", "WRAP", 2),
    Fmt(64, -2, False, "RND_INF", "SAT_ZERO"),
    # --- wide (multi-limb): limb boundaries, every overflow mode ---------------
    Fmt(65, 3, True, "RND", "SAT"),
    Fmt(96, 40, True, "RND_CONV", "WRAP_SM", 0),
    Fmt(127, 70, True, "RND_INF", "WRAP", 1),
    Fmt(128, 64, True, "TRN_ZERO", "SAT_SYM"),
    Fmt(128, 1, False, "RND_INF", "WRAP", 2),
    Fmt(129, 129, True, "TRN", "WRAP"),
    Fmt(200, -7, True, "RND_MIN_INF", "WRAP", 1),
    Fmt(512, 256, True, "RND_ZERO", "SAT_ZERO"),
    Fmt(1024, 512, True, "RND", "WRAP_SM", 2),
    Fmt(1024, 1100, False, "RND_CONV", "SAT"),
    # --- N with the saturating modes: the header accepts it and never reads it ---
    Fmt(8, 4, True, "RND", "SAT", 2),
    Fmt(12, 3, True, "RND_CONV", "SAT_SYM", 5),
    Fmt(10, 2, False, "TRN", "SAT_ZERO", 1),
    Fmt(70, 20, True, "RND_INF", "SAT", 3),
)

# Types used only for the raw I/O self-check (r command); they prove the
# decimal I/O path already works beyond 64 bits.
IO_ONLY: tuple[Fmt, ...] = (
    Fmt(65, 3, True),
    Fmt(128, 64, False),
    Fmt(200, -7, True),
)

MAX_SRC_W = 1024  # cast sources up to the widest ap_fixed


def _cast_sources(d: Fmt) -> list[Src]:
    """Source types for casts into ``d``: rounding + overflow, sign change,
    left shift, and a source entirely below the destination LSB."""
    out: list[Src] = []

    def add(i: int, f: int, signed: bool, shrink_int: bool = True) -> None:
        w = i + f
        if w > MAX_SRC_W:  # too wide: drop integer (or fraction) bits
            if shrink_int:
                i -= w - MAX_SRC_W
            else:
                f -= w - MAX_SRC_W
            w = MAX_SRC_W
        if w < 1:
            f += 1 - w
            w = 1
        s = Src(w, i, signed)
        if s not in out:
            out.append(s)

    add(d.i + 3, d.f + 4, True)              # 4 bits to round away, 3 bits of overflow
    add(d.i + 1, d.f + 2, not d.signed)      # sign change, 2 bits to round away
    add(d.i + 2, d.f - 3, d.signed, False)   # binary point moves left, no rounding
    add(3 - (d.f + 6), d.f + 6, True)        # W=3, every bit far below the LSB
    return out


CAST_PAIRS: tuple[CastPair, ...] = tuple(
    CastPair(s, k) for k, d in enumerate(FORMATS) for s in _cast_sources(d)
)


class BinPair(NamedTuple):
    """Operand types of a binary operation: ``A a; B b; a op b``."""

    a: Src
    b: Src

    def __str__(self) -> str:
        return f"{self.a} , {self.b}"


def _cmp_pairs() -> list[BinPair]:
    """Mixed-signedness comparison pairs around the header's C-conversion rules: aligned
    widths 31..33, 63..65 and beyond, with the binary points equal, lhs finer and lhs
    coarser (the header widens a coarser lhs by one extra bit), in both operand orders."""
    out: list[BinPair] = []

    def add(a: Src, b: Src) -> None:
        for p in (BinPair(a, b), BinPair(b, a)):
            if p not in out:
                out.append(p)

    for ws, wu in ((2, 32), (2, 31), (31, 31), (31, 32), (32, 32), (33, 32), (32, 33), (33, 33),
                   (8, 64), (63, 63), (64, 64), (65, 64), (64, 65), (65, 65), (63, 65), (96, 96),
                   (120, 130), (130, 120), (200, 200)):
        add(Src(ws, ws, True), Src(wu, wu, False))            # integers: F equal
    for ws, wu, fs, fu in ((30, 31, 2, 0), (31, 30, 0, 2), (20, 31, 5, 3), (31, 20, 3, 5),
                           (62, 62, 1, 0), (62, 63, 0, 1), (64, 40, 10, 34), (70, 64, 6, 0),
                           (100, 90, 3, 40)):
        add(Src(ws, ws - fs, True), Src(wu, wu - fu, False))
    add(Src(32, 32, True), Src(32, 16, True))               # same signedness: exact
    add(Src(65, 60, False), Src(64, 40, False))
    return out


CMP_PAIRS: tuple[BinPair, ...] = tuple(_cmp_pairs())

# Divisions whose internal width (max(W1 + max(F2,0) + [S2 and not S1], W2 + [S1 and not S2]))
# is above 64 bits, where the header's ap_private runs its multi-word (Knuth) division; plus
# two at or below 64 bits (single-word native division) as controls.
DIV_PAIRS: tuple[BinPair, ...] = (
    BinPair(Src(70, 33, False), Src(71, 21, False)),        # the example
    BinPair(Src(120, 120, False), Src(120, 120, False)),    # ap_uint<120> / ap_uint<120>
    BinPair(Src(120, 120, True), Src(120, 120, True)),
    BinPair(Src(100, 50, True), Src(80, 10, False)),
    BinPair(Src(64, 64, False), Src(64, 0, False)),         # 128-bit dividend, 64-bit divisor
    BinPair(Src(65, 65, True), Src(65, 65, True)),
    BinPair(Src(96, 40, True), Src(96, 60, True)),
    BinPair(Src(127, 70, False), Src(33, 1, True)),
    BinPair(Src(40, 20, True), Src(48, 8, True)),           # W = 80
    BinPair(Src(33, 33, False), Src(64, 32, False)),        # W = 65
    BinPair(Src(200, 100, True), Src(150, 75, True)),
    BinPair(Src(256, 256, False), Src(130, 0, False)),      # W = 386
    BinPair(Src(32, 16, True), Src(32, 16, True)),          # W = 48: native (control)
    BinPair(Src(64, 64, False), Src(63, 63, True)),         # W = 65 signed
    BinPair(Src(30, 10, False), Src(34, 0, False)),         # W = 64: native (control)
)


def check_lists() -> None:
    for f in FORMATS + IO_ONLY:
        assert 1 <= f.w <= 1024, f
        assert f.q in Q_MODES and f.o in O_MODES, f
        assert f.n >= 0 and (f.n <= f.w), f
        assert f.signed or f.o != "WRAP_SM", f"ap_ufixed rejects WRAP_SM: {f}"
    for p in CAST_PAIRS:
        assert 1 <= p.src.w <= 1024 and 0 <= p.dst < len(FORMATS), p
    for p in CMP_PAIRS + DIV_PAIRS:
        assert 1 <= p.a.w <= 1024 and 1 <= p.b.w <= 1024, p


# ----------------------------------------------------------------------------
# locating the tools


def find_ap_types() -> Path | None:
    """The ap_types directory of an installed hls4ml, found without importing it."""
    try:
        spec = importlib.util.find_spec("hls4ml")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for loc in spec.submodule_search_locations or ():
        d = Path(loc) / "templates" / "vivado" / "ap_types"
        if (d / "ap_fixed.h").is_file():
            return d
    return None


def find_cxx() -> str | None:
    return shutil.which("g++")


def missing_reason() -> str | None:
    """Why the oracle cannot run here, or None."""
    why = []
    if find_ap_types() is None:
        why.append(
            "hls4ml is not installed, or lacks templates/vivado/ap_types/ap_fixed.h "
            "(its wheel ships the reference ap_fixed headers): pip install hls4ml"
        )
    if find_cxx() is None:
        why.append("g++ was not found on PATH: install a C++17 g++ (e.g. apt-get install g++)")
    return "; ".join(why) or None


def cache_root() -> Path:
    env = os.environ.get("FIXEDPOINT_ORACLE_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "fixedpoint" / "oracle"


# ----------------------------------------------------------------------------
# code generation


def _chunks(items: Sequence, n: int) -> list[list]:
    n = max(1, min(n, len(items)))
    return [list(items[k::n]) for k in range(n)]


def generate_sources(n_units: int = 4) -> dict[str, str]:
    """File name -> text of the generated translation units (plus main.cpp)."""
    check_lists()
    jobs: list[tuple[str, str]] = []  # (weight class, definition)
    # (typedefs keep template commas out of the macro arguments)
    for k, f in enumerate(FORMATS):
        jobs.append(("d", f"typedef {f.cpp()} TD{k};\n"
                          f"ORC_FROM_DOUBLE(orc_d{k}, TD{k}, {str(f.signed).lower()})"))
    for k, f in enumerate(FORMATS + IO_ONLY):
        jobs.append(("r", f"typedef {f.cpp()} TR{k};\n"
                          f"ORC_ROUNDTRIP(orc_r{k}, TR{k}, {str(f.signed).lower()})"))
    for k, p in enumerate(CAST_PAIRS):
        d = FORMATS[p.dst]
        jobs.append(("c", f"typedef {p.src.cpp()} TCS{k};\ntypedef {d.cpp()} TCD{k};\n"
                          f"ORC_CAST(orc_c{k}, TCS{k}, TCD{k}, {str(d.signed).lower()})"))
    for k, p in enumerate(CMP_PAIRS):
        jobs.append(("k", f"typedef {p.a.cpp()} TKA{k};\ntypedef {p.b.cpp()} TKB{k};\n"
                          f"ORC_CMP(orc_k{k}, TKA{k}, TKB{k})"))
    for k, p in enumerate(DIV_PAIRS):
        jobs.append(("v", f"typedef {p.a.cpp()} TVA{k};\ntypedef {p.b.cpp()} TVB{k};\n"
                          f"ORC_DIV(orc_v{k}, TVA{k}, TVB{k}, {str(p.a.signed or p.b.signed).lower()})"))
    # Round-robin over a list sorted by kind spreads the heavy double
    # constructors evenly across units.
    jobs.sort(key=lambda j: j[0])
    head = '// generated by tests/oracle/harness.py; do not edit\n#include "oracle_common.h"\n\n'
    files = {}
    for u, chunk in enumerate(_chunks(jobs, n_units)):
        files[f"unit{u}.cpp"] = head + "\n".join(d for _, d in chunk) + "\n"
    nd, nr, nc = len(FORMATS), len(FORMATS) + len(IO_ONLY), len(CAST_PAIRS)
    nk, nv = len(CMP_PAIRS), len(DIV_PAIRS)
    main = [
        "// generated by tests/oracle/harness.py; do not edit",
        "#define ORC_MAIN",
        '#include "oracle_common.h"',
        "",
    ]
    main += [f"std::string orc_d{k}(double);" for k in range(nd)]
    main += [f"std::string orc_r{k}(const char*);" for k in range(nr)]
    main += [f"std::string orc_c{k}(const char*);" for k in range(nc)]
    main += [f"std::string orc_k{k}(const char*);" for k in range(nk)]
    main += [f"std::string orc_v{k}(const char*);" for k in range(nv)]
    main.append("// formats: " + "; ".join(f"{k}={f}" for k, f in enumerate(FORMATS + IO_ONLY)))
    main.append("static const orc::DoubleFn FD[] = {" + ", ".join(f"orc_d{k}" for k in range(nd)) + "};")
    main.append("static const orc::RawFn FR[] = {" + ", ".join(f"orc_r{k}" for k in range(nr)) + "};")
    main.append("static const orc::RawFn FC[] = {" + ", ".join(f"orc_c{k}" for k in range(nc)) + "};")
    main.append("static const orc::RawFn FK[] = {" + ", ".join(f"orc_k{k}" for k in range(nk)) + "};")
    main.append("static const orc::RawFn FV[] = {" + ", ".join(f"orc_v{k}" for k in range(nv)) + "};")
    main.append(f"int main() {{ return orc::serve(FD, {nd}, FR, {nr}, FC, {nc}, FK, {nk}, FV, {nv}); }}")
    files["main.cpp"] = "\n".join(main) + "\n"
    files["oracle_common.h"] = COMMON_HEADER.read_text()
    return files


def _compiler_id(cxx: str) -> str:
    r = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=True)
    return r.stdout.strip()


def _tree_digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(d)).encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


class BuildInfo(NamedTuple):
    binary: Path
    compile_seconds: float | None  # None: taken from the cache
    key: str


_build_lock = threading.Lock()


@contextlib.contextmanager
def _file_lock(path: Path):
    """Serialize builders across processes (e.g. pytest-xdist workers) where possible."""
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent builds are still correct (atomic rename)
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(ap_types: Path | None = None, cxx: str | None = None,
          n_units: int | None = None, verbose: bool = False) -> BuildInfo:
    """Compile (or fetch from the cache) the oracle binary."""
    ap_types = ap_types or find_ap_types()
    cxx = cxx or find_cxx()
    if ap_types is None or cxx is None:
        raise RuntimeError(missing_reason())
    if n_units is None:
        n_units = max(2, min(8, (os.cpu_count() or 2) * 2))
    srcs = generate_sources(n_units)
    h = hashlib.sha256()
    for name in sorted(srcs):
        h.update(name.encode() + b"\0" + srcs[name].encode() + b"\0")
    h.update(_tree_digest(ap_types).encode())
    h.update(_compiler_id(cxx).encode())
    h.update(" ".join(CXX_FLAGS).encode())
    key = h.hexdigest()[:20]
    root = cache_root()
    exe = root / f"ap_oracle-{key}{'.exe' if os.name == 'nt' else ''}"
    if exe.is_file() and os.access(exe, os.X_OK):
        return BuildInfo(exe, None, key)
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock, _file_lock(root / f"ap_oracle-{key}.lock"):
        if exe.is_file() and os.access(exe, os.X_OK):  # built by another process meanwhile
            return BuildInfo(exe, None, key)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="build-", dir=root) as tmp:
            tmpd = Path(tmp)
            for name, text in srcs.items():
                (tmpd / name).write_text(text)
            units = sorted(n for n in srcs if n.endswith(".cpp"))
            procs = []
            for u in units:
                cmd = [cxx, *CXX_FLAGS, f"-I{ap_types}", f"-I{tmpd}", "-c", u, "-o", u + ".o"]
                procs.append((u, subprocess.Popen(cmd, cwd=tmpd, stdout=subprocess.PIPE,
                                                  stderr=subprocess.STDOUT, text=True)))
            errors = []
            for u, p in procs:
                out, _ = p.communicate()
                if p.returncode != 0:
                    errors.append(f"{u}:\n{out[-4000:]}")
            if errors:
                raise RuntimeError("oracle harness failed to compile:\n" + "\n".join(errors))
            tmp_exe = tmpd / "ap_oracle"
            r = subprocess.run([cxx, *[u + ".o" for u in units], "-o", str(tmp_exe)],
                               cwd=tmpd, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("oracle harness failed to link:\n" + r.stdout + r.stderr)
            secs = time.perf_counter() - t0
            (root / f"ap_oracle-{key}.json").write_text(json.dumps({
                "compile_seconds": round(secs, 2), "ap_types": str(ap_types), "cxx": cxx,
                "flags": CXX_FLAGS, "units": len(units), "formats": [str(f) for f in FORMATS],
                "cast_pairs": [[str(p.src), p.dst] for p in CAST_PAIRS],
            }, indent=1))
            os.replace(tmp_exe, exe)  # atomic: concurrent builders are harmless
        if verbose:
            print(f"compiled oracle in {secs:.1f} s -> {exe}", file=sys.stderr)
        return BuildInfo(exe, secs, key)


# ----------------------------------------------------------------------------
# running


def double_bits(x: float) -> str:
    return "%016x" % struct.unpack("<Q", struct.pack("<d", x))[0]


class Oracle:
    """A running harness process; every call is one batched round trip."""

    def __init__(self, binary: Path | str):
        self._err = tempfile.TemporaryFile()
        self._p = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=self._err, text=True, bufsize=1 << 16)
        info = self._ask(["i"])[0].split()
        want = [len(FORMATS), len(FORMATS) + len(IO_ONLY), len(CAST_PAIRS), len(CMP_PAIRS), len(DIV_PAIRS)]
        if [int(v) for v in info] != want:
            raise RuntimeError(f"oracle binary tables {info} do not match the lists {want}")

    def _ask(self, lines: list[str]) -> list[str]:
        p = self._p
        if p.poll() is not None:
            raise RuntimeError(f"oracle process exited ({p.returncode}): {self._stderr()}")
        # The harness only answers on "f", after reading every request, so a
        # large batch cannot deadlock on full pipes.
        p.stdin.write("".join(s + "\n" for s in lines) + "f\n")
        p.stdin.flush()
        out = []
        for _ in lines:
            s = p.stdout.readline()
            if not s:
                raise RuntimeError(f"oracle process died ({p.wait()}): {self._stderr()}")
            out.append(s.rstrip("\n"))
        return out

    def _stderr(self) -> str:
        self._err.seek(0)
        return self._err.read().decode(errors="replace")[-2000:]

    @staticmethod
    def _ints(answers: list[str], what: str) -> list[int]:
        bad = [a for a in answers if a.startswith("E")]
        if bad:
            raise RuntimeError(f"oracle rejected {what}: {bad[0]}")
        return [int(a) for a in answers]

    def from_double(self, fmt_index: int, xs: Iterable[float]) -> list[int]:
        """Raw of ``FORMATS[fmt_index](x)`` for every double x."""
        return self._ints(self._ask([f"d {fmt_index} {double_bits(float(x))}" for x in xs]), "from_double")

    def cast(self, pair_index: int, src_raws: Iterable[int]) -> list[int]:
        """Raw of ``Dst v(src)`` with ``src.range() = raw`` for ``CAST_PAIRS[pair_index]``."""
        return self._ints(self._ask([f"c {pair_index} {int(r)}" for r in src_raws]), "cast")

    def compare(self, pair_index: int, raw_pairs: Iterable[tuple[int, int]]) -> list[str]:
        """``CMP_PAIRS[pair_index]``: for every (a raw, b raw), six 0/1 digits giving
        ``a == b, a != b, a < b, a <= b, a > b, a >= b`` as the header computes them."""
        out = self._ask([f"k {pair_index} {int(x)} {int(y)}" for x, y in raw_pairs])
        bad = [a for a in out if a.startswith("E")]
        if bad:
            raise RuntimeError(f"oracle rejected compare: {bad[0]}")
        return out

    def divide(self, pair_index: int, raw_pairs: Iterable[tuple[int, int]]) -> list[int]:
        """Raw of ``a / b`` (the header's natural result type) for ``DIV_PAIRS[pair_index]``."""
        return self._ints(self._ask([f"v {pair_index} {int(x)} {int(y)}" for x, y in raw_pairs]), "divide")

    def roundtrip(self, fmt_index: int, raws: Iterable[int]) -> list[int]:
        """Raw -> (FORMATS + IO_ONLY)[fmt_index] -> raw (I/O self-check)."""
        return self._ints(self._ask([f"r {fmt_index} {int(r)}" for r in raws]), "roundtrip")

    def close(self) -> None:
        if self._p.poll() is None:
            try:
                self._p.stdin.close()
                self._p.wait(timeout=10)
            except Exception:
                self._p.kill()
                self._p.wait()
        self._err.close()

    def __enter__(self) -> "Oracle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("list", "build", "d", "c", "r"):
        print(__doc__)
        return 2
    if argv[0] == "list":
        for k, f in enumerate(FORMATS):
            print(f"F{k:3d} {f}")
        for k, p in enumerate(CAST_PAIRS):
            print(f"C{k:3d} {p.src} -> F{p.dst} {FORMATS[p.dst]}")
        for k, p in enumerate(CMP_PAIRS):
            print(f"K{k:3d} {p.a} <=> {p.b}")
        for k, p in enumerate(DIV_PAIRS):
            print(f"V{k:3d} {p.a} / {p.b}")
        return 0
    info = build(verbose=True)
    if argv[0] == "build":
        print(info.binary)
        return 0
    idx = int(argv[1])
    with Oracle(info.binary) as o:
        if argv[0] == "d":
            xs = [float(v) for v in argv[2:]]
            for x, r in zip(xs, o.from_double(idx, xs)):
                print(f"{FORMATS[idx]}({x!r}) -> raw {r}")
        elif argv[0] == "c":
            rs = [int(v) for v in argv[2:]]
            p = CAST_PAIRS[idx]
            for s, r in zip(rs, o.cast(idx, rs)):
                print(f"{p.src}(raw {s}) -> {FORMATS[p.dst]} raw {r}")
        else:
            rs = [int(v) for v in argv[2:]]
            for s, r in zip(rs, o.roundtrip(idx, rs)):
                print(f"{(FORMATS + IO_ONLY)[idx]} raw {s} -> {r}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
