"""hls4ml's activation lookup tables, printed by a tiny C++ program built against its headers.

The program calls the ``init_*_table`` functions of ``nnet_activation.h`` (the Vivado
templates shipped in the hls4ml wheel, with its ``ap_types``) exactly as the generated
firmware instantiates them, and prints every entry's stored integer. It is compiled with the
flags of hls4ml's ``build_lib.sh`` (``-O3``, ``-std=c++23`` where g++ takes it, else
``-std=c++11``) after the same includes as a generated project, and cached by a hash of its
source, the header directory and the compiler version.

Plain Python (no pytest, no fixedpoint)::

    python tests/oracle_tables/harness.py lut sigmoid 16 'ap_fixed<18,8>'

A spec is a tuple:

- ``("lut", kind, size, table_t)``: ``init_<kind>_table`` (sigmoid, tanh, softplus, softsign,
  elu, selu);
- ``("exp", data_t, size, exp_table_t, exp_scale, negative)``: ``init_exp_table<data_t>``;
- ``("inv", inv_inp_t, size, inv_table_t)``: ``init_invert_table<inv_inp_t>``;
- ``("exp_legacy", size, table_t)``, ``("inv_legacy", size, table_t)``.

Types are C++ spellings (``ap_fixed<18,8,AP_RND,AP_SAT,0>``); sizes are table sizes.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PRELUDE = """\
#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_utils/nnet_types.h"
#include <array>
#include <cstddef>
#include <cstdio>
#include <tuple>
#include "nnet_utils/nnet_code_gen.h"
#include "nnet_utils/nnet_helpers.h"
#include "nnet_utils/nnet_activation.h"
#include "nnet_utils/nnet_activation_stream.h"

template <class T, unsigned N> void dump(const T (&t)[N]) {
    for (unsigned i = 0; i < N; i++) {
        unsigned long long u = t[i].range(T::width - 1, 0).to_uint64();
        std::printf(i ? " %llu" : "%llu", u);
    }
    std::printf("\\n");
}
"""


def templates_dir() -> Path:
    import hls4ml  # noqa: PLC0415

    return Path(hls4ml.__file__).resolve().parent / "templates" / "vivado"


def cxx_flags(cxx: str) -> list[str]:
    """build_lib.sh's flags: -O3, and -std=c++23 when the compiler takes it (else c++11)."""
    probe = subprocess.run([cxx, "-Werror", "-fsyntax-only", "-std=c++23", "-xc++", "-", "-o", os.devnull],
                           input="", capture_output=True, text=True)
    return ["-O3", "-std=c++23" if probe.returncode == 0 else "-std=c++11", "-w"]


def _width(cpp_type: str) -> tuple[int, bool]:
    m = re.fullmatch(r"\s*ap_(u?)(fixed|int)\s*<\s*(\d+)[^>]*>\s*", cpp_type)
    if m is None:
        raise ValueError(f"not an ap type: {cpp_type!r}")
    return int(m.group(3)), m.group(1) == ""


def _unit(k: int, spec: tuple) -> tuple[str, str]:
    """(struct definition, statement block) for spec number k."""
    kind = spec[0]
    if kind == "lut":
        _, fn, size, tt = spec
        struct = (f"struct cfg{k} : nnet::activ_config {{ static const unsigned table_size = {size}; "
                  f"typedef {tt} table_t; }};\n")
        body = f"{{ static {tt} t[{size}]; nnet::init_{fn}_table<cfg{k}, {size}>(t); dump(t); }}\n"
    elif kind == "exp":
        _, dt, size, et, scale, negative = spec
        struct = (f"struct cfg{k} : nnet::activ_config {{ static const unsigned exp_table_size = {size}; "
                  f"static constexpr float exp_scale = {scale!r}; typedef {et} exp_table_t; }};\n")
        body = (f"{{ static {et} t[{size}]; nnet::init_exp_table<{dt}, cfg{k}>(t, {'true' if negative else 'false'}); "
                "dump(t); }\n")
    elif kind == "inv":
        _, it, size, vt = spec
        struct = (f"struct cfg{k} : nnet::activ_config {{ static const unsigned inv_table_size = {size}; "
                  f"typedef {vt} inv_table_t; }};\n")
        body = f"{{ static {vt} t[{size}]; nnet::init_invert_table<{it}, cfg{k}>(t); dump(t); }}\n"
    elif kind in ("exp_legacy", "inv_legacy"):
        _, size, tt = spec
        struct = f"struct cfg{k} : nnet::activ_config {{ typedef {tt} table_t; }};\n"
        fn = "init_exp_table_legacy" if kind == "exp_legacy" else "init_invert_table_legacy"
        body = f"{{ static {tt} t[{size}]; nnet::{fn}<cfg{k}, {size}>(t); dump(t); }}\n"
    else:
        raise ValueError(f"unknown table spec {spec!r}")
    return struct, body


def source(specs) -> str:
    structs, bodies = zip(*(_unit(k, s) for k, s in enumerate(specs))) if specs else ((), ())
    return PRELUDE + "".join(structs) + "int main() {\n" + "".join(bodies) + "    return 0;\n}\n"


def _table_type(spec: tuple) -> str:
    return spec[2] if spec[0] in ("exp_legacy", "inv_legacy") else spec[3]


def cache_root() -> Path:
    env = os.environ.get("FIXEDPOINT_ORACLE_CACHE")
    return Path(env) / "tables" if env else Path.home() / ".cache" / "fixedpoint" / "oracle_tables"


def build(specs, cache: Path | None = None) -> Path:
    """The compiled program for ``specs`` (from the cache when built before)."""
    cxx = shutil.which("g++")
    if cxx is None:
        raise RuntimeError("g++ was not found on PATH")
    tdir = templates_dir()
    flags = cxx_flags(cxx)
    src = source(specs)
    h = hashlib.blake2b(digest_size=16)
    h.update(src.encode())
    h.update(" ".join(flags).encode())
    h.update(subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.encode())
    for p in sorted(list((tdir / "nnet_utils").glob("*.h")) + list((tdir / "ap_types").rglob("*.h"))):
        h.update(p.relative_to(tdir).as_posix().encode())
        h.update(p.read_bytes())
    root = cache or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    exe = root / f"tables-{h.hexdigest()}"
    if exe.exists():
        return exe
    with tempfile.TemporaryDirectory() as tmp:
        cpp = Path(tmp) / "tables.cpp"
        cpp.write_text(src)
        out = Path(tmp) / "tables"
        cmd = [cxx, *flags, f"-I{tdir / 'ap_types'}", f"-I{tdir}", str(cpp), "-o", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"compiling the table harness failed:\n{' '.join(cmd)}\n{r.stderr[-4000:]}")
        tmp_exe = root / f"{exe.name}.{os.getpid()}.tmp"
        shutil.copyfile(out, tmp_exe)
        tmp_exe.chmod(0o755)
        os.replace(tmp_exe, exe)
    return exe


def tables(specs, cache: Path | None = None) -> list[list[int]]:
    """The stored integers (signed values for signed types) of each spec's table."""
    specs = list(specs)
    exe = build(specs, cache)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    if len(out) != len(specs):
        raise RuntimeError(f"the table harness printed {len(out)} lines for {len(specs)} tables")
    result = []
    for spec, line in zip(specs, out):
        w, signed = _width(_table_type(spec))
        vals = [int(v) for v in line.split()]
        if signed:
            vals = [v - (1 << w) if v >> (w - 1) else v for v in vals]
        result.append(vals)
    return result


if __name__ == "__main__":  # pragma: no cover - manual use
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        sys.exit(0)
    kind = args[0]
    conv = {"lut": (str, int, str), "exp": (str, int, str, float, lambda s: s.lower() in ("1", "true")),
            "inv": (str, int, str), "exp_legacy": (int, str), "inv_legacy": (int, str)}[kind]
    spec = (kind, *(c(a) for c, a in zip(conv, args[1:])))
    print(" ".join(map(str, tables([spec])[0])))
