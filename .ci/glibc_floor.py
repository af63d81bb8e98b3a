#!/usr/bin/env python3
"""The oldest glibc a built extension runs on: the highest GLIBC_x.y symbol version that
``objdump -T`` lists among its undefined (imported) symbols.

    python .ci/glibc_floor.py                    # fixedpoint._core as installed
    python .ci/glibc_floor.py --max 2.28 a.so    # exit 1 if a.so needs a newer glibc

The release step (docs/index.md, "Release wheels") runs it inside cibuildwheel's test step on the
repaired manylinux_2_28 wheel with ``--max 2.28``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

_VERSION = re.compile(r"\(?GLIBC_(\d+(?:\.\d+)*)\)?\s+(\S+)\s*$")


def required(path: str) -> dict[tuple[int, ...], list[str]]:
    """{glibc version: [imported symbols needing it]} from ``objdump -T path``."""
    if shutil.which("objdump") is None:
        raise SystemExit("glibc_floor: objdump not found (install binutils)")
    out = subprocess.run(["objdump", "-T", path], check=True, capture_output=True, text=True).stdout
    needs: dict[tuple[int, ...], list[str]] = {}
    for line in out.splitlines():
        if "*UND*" not in line:
            continue
        m = _VERSION.search(line)
        if m:
            needs.setdefault(tuple(int(p) for p in m.group(1).split(".")), []).append(m.group(2))
    return needs


def floor(path: str) -> tuple[tuple[int, ...], list[str]]:
    needs = required(path)
    if not needs:
        return (0,), []
    top = max(needs)
    return top, sorted(needs[top])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", help="shared objects (default: the installed fixedpoint._core)")
    p.add_argument("--max", help="fail when a path needs a glibc newer than this, e.g. 2.28")
    args = p.parse_args(argv)
    paths = args.paths
    if not paths:
        import fixedpoint._core as core

        paths = [core.__file__]
    limit = tuple(int(v) for v in args.max.split(".")) if args.max else None
    bad = 0
    for path in paths:
        top, syms = floor(path)
        ver = ".".join(map(str, top))
        print(f"{path}: needs glibc >= {ver} ({', '.join(syms[:6]) or 'no versioned glibc symbol'})")
        if limit is not None and top > limit:
            print(f"glibc_floor: {path} needs glibc {ver}, above the allowed {args.max}", file=sys.stderr)
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
