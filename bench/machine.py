"""What the run was measured on: CPU model and ISA flags, core counts, versions of every peer,
fixedpoint's build info and SIMD target, thread pools and thread environment variables, load
averages and the git commit. Every results file carries this as its ``machine`` entry.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.model import describe
from bench.timing import _threadpoolctl, available_threads

# ISA features worth logging (x86 /proc/cpuinfo "flags" and arm64 "Features" spellings).
ISA_OF_INTEREST = (
    "sse2", "ssse3", "sse4_1", "sse4_2", "popcnt", "avx", "avx2", "fma", "bmi1", "bmi2",
    "f16c", "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512ifma",
    "avx512vbmi", "avx512_vbmi2", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq",
    "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "asimd", "asimddp", "sve", "sve2",
)  # fmt: skip


THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "FIXEDPOINT_NUM_THREADS",
    "APYTYPES_THREAD_COUNT",
)


PEER_VERSIONS = ("numpy", "apytypes", "fxpmath", "torch", "scipy", "hls4ml", "threadpoolctl", "rich", "matplotlib")


def cpu_info() -> dict[str, Any]:
    model = None
    flags: set[str] = set()
    cores: set[tuple[str, str]] = set()
    phys_id = ""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if key in ("model name", "Hardware") and model is None:
            model = val
        elif key in ("flags", "Features") and not flags:
            flags = set(val.split())
        elif key == "physical id":
            phys_id = val
        elif key == "core id":
            cores.add((phys_id, val))
    return {
        "model": model or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "available_cores": available_threads(),
        "physical_cores": len(cores) or None,
        "isa": [f for f in ISA_OF_INTEREST if f in flags],
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def machine_info(
    *,
    threads: Sequence[int],
    fx: Any = None,
    fx_error: str | None = None,
    fx_default_threads: int | None = None,
    numpy_preimported: bool = False,
) -> dict[str, Any]:
    versions: dict[str, str | None] = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in PEER_VERSIONS[1:]:
        versions[dist] = _version(dist)
    fx_version = getattr(fx, "__version__", None) if fx is not None else None
    versions["fixedpoint"] = fx_version or _version("fixedpoint-hls")

    build_info: Any = None
    if fx is not None:
        try:
            build_info = _jsonable(fx.build_info())
        except Exception as exc:
            build_info = {"error": describe(exc)}

    tpc = _threadpoolctl()
    if tpc is not None:
        control = "threadpoolctl"
        try:
            pools = [
                {k: p.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "prefix")}
                for p in tpc.threadpool_info()
            ]
        except Exception as exc:
            pools = [{"error": describe(exc)}]
    else:
        control = (
            "environment variables (numpy was imported before they could be set)"
            if numpy_preimported
            else "environment variables, pinned before numpy import (peers run 1 BLAS thread)"
        )
        pools = None

    return {
        "cpu": cpu_info(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": versions,
        "fixedpoint": {
            "available": fx is not None,
            "error": fx_error,
            "build_info": build_info,
            "default_threads": fx_default_threads,
            "simd_target": simd_target(build_info),
        },
        "threads": {
            "requested": list(threads),
            "available": available_threads(),
            "peer_thread_control": control,
            "threadpools": pools,
            "env": {var: os.environ.get(var) for var in THREAD_ENV_VARS},
        },
        "load_avg": _load_avg(),
        "git_commit": _git_commit(),
    }


def _load_avg() -> list[float] | None:
    """1/5/15-minute load averages (other work on the machine skews times); taken at the start
    of the run (``load_avg_start``) and at its end (``load_avg``, which includes the run's own
    threads)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def simd_target(build_info: Any) -> str | None:
    """Best-effort pick of the SIMD target from fx.build_info() (whatever key carries it)."""
    if not isinstance(build_info, dict):
        return None
    for key in ("simd_target", "simd", "isa", "dispatch", "target", "kernel_isa"):
        val = build_info.get(key)
        if isinstance(val, str) and val:
            return val
    for key, val in build_info.items():
        if isinstance(val, str) and any(s in key.lower() for s in ("simd", "isa")):
            return val
    return None
