"""Shared helpers for the tests that compare the emulator with hls4ml's compiled C-simulation.

``convert`` builds an hls4ml model from a PyTorch module and compiles its C-simulation through
:func:`compile_cached`: the generated firmware sources are hashed (with the hls4ml and g++
versions) and a library compiled before from the same sources is loaded instead of compiling
again (each compile takes 5-15 s here). The cache lives in ``~/.cache/fixedpoint/hls4ml``
(``FIXEDPOINT_HLS4ML_CACHE`` to move it; ``0`` to disable it).

Importing this module skips the calling test module when hls4ml, torch or g++ is missing.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

hls4ml = pytest.importorskip("hls4ml", reason="hls4ml is not installed (pip install -e '.[hls4ml]')")
torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[torch]' -c .ci/constraints.txt)")
if shutil.which("g++") is None:  # pragma: no cover - g++ is on every machine kind here
    pytest.skip("g++ is needed to compile hls4ml's C-simulation", allow_module_level=True)

import fixedpoint as fx  # noqa: E402
from fixedpoint.nn._raw import quantize_input  # noqa: E402

_SETTING = os.environ.get("FIXEDPOINT_HLS4ML_CACHE", "")
CACHE = None if _SETTING == "0" else Path(_SETTING or Path.home() / ".cache" / "fixedpoint" / "hls4ml")
_GXX = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def _source_hash(prj: Path) -> str:
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{hls4ml.__version__}|{_GXX}".encode())
    fw = prj / "firmware"
    files = sorted(list(fw.glob("*.cpp")) + list(fw.glob("*.h")) + list((fw / "weights").glob("*")))
    files += sorted(prj.glob("*_bridge.cpp"))
    for p in files:
        h.update(p.relative_to(prj).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def compile_cached(hm):
    """``hm.compile()``, or the library compiled before from byte-identical sources.

    The C-simulation reads its weights at run time from the ``firmware/weights`` folder whose
    absolute path is compiled into the library, so a cached library is built inside its own
    cache folder (a copy of the project, weights included) and stays valid when the test's
    project folder is gone."""
    hm.write()
    prj = Path(hm.config.get_output_dir())
    if CACHE is None:
        hm._compile()
        return hm
    key = _source_hash(prj)
    home = CACHE / key
    lib = home / "lib.so"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per key, also across processes
        if not lib.exists():
            shutil.rmtree(home, ignore_errors=True)  # a build that died half-way
            shutil.copytree(prj, home, ignore=shutil.ignore_patterns("*.so", "*.o"))
            ret = subprocess.run(["bash", "./build_lib.sh"], cwd=home, capture_output=True, text=True)
            built = sorted((home / "firmware").glob("*.so"))
            if ret.returncode != 0 or len(built) != 1:
                shutil.rmtree(home, ignore_errors=True)
                raise RuntimeError(f"hls4ml C-simulation build failed for {prj}:\n{ret.stdout}\n{ret.stderr}")
            built[0].rename(lib)
    hm._top_function_lib = ctypes.cdll.LoadLibrary(str(lib))
    return hm


def config(model, input_shape, *, default="fixed<16,6>", layers=None, model_cfg=None, granularity="name"):
    """``config_from_pytorch_model`` with per-layer precision/attribute updates:
    ``layers = {name: {"Precision": {...}, "ReuseFactor": 4, ...}}`` (a bare precision dict is
    taken as ``{"Precision": ...}``); ``model_cfg`` updates the ``Model`` section."""
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=input_shape, granularity=granularity,
                                                 default_precision=default)
    for name, entry in (layers or {}).items():
        if not any(k[:1].isupper() or k.endswith("_t") for k in entry):
            entry = {"Precision": entry}
        slot = cfg["LayerName"].setdefault(name, {})
        for k, v in entry.items():
            if isinstance(v, dict) and isinstance(slot.get(k), dict):
                slot[k].update(v)
            else:
                slot[k] = v
    cfg["Model"].update(model_cfg or {})
    return cfg


def convert(model, input_shape, out_dir, *, io_type="io_parallel", backend="Vivado", hls_config=None, **cfg_kwargs):
    """Convert a PyTorch module with hls4ml and compile (cached) its C-simulation."""
    model = model.eval()
    cfg = hls_config if hls_config is not None else config(model, input_shape, **cfg_kwargs)
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(out_dir), backend=backend,
                                                      io_type=io_type)
    return compile_cached(hm)


def inputs(shape, n=300, scale=2.0, seed=7, dtype=np.float32):
    """Samples of per-sample ``shape``: normal values, a few exact zeros and a few large
    integers beyond the usual input range (they wrap or saturate)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, scale, (n,) + tuple(shape)).astype(dtype)
    x[:4] = 0
    x[4:8] = rng.integers(-40, 40, (4,) + tuple(shape)).astype(dtype)
    return x


def assert_bits_equal(got, want):
    """Same structure (array or list of arrays), shapes, dtypes and every bit."""
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (type(got), len(want))
        for g, w in zip(got, want):
            assert_bits_equal(g, w)
        return
    assert isinstance(got, np.ndarray), type(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    view = np.uint32 if want.dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(got.view(view), want.view(view))


def check(hm, x):
    """``fx.hls4ml.emulate(hm, x)`` equals ``hm.predict(x)`` bit for bit; returns the result."""
    want = hm.predict(x)
    got = fx.hls4ml.emulate(hm, x)
    assert_bits_equal(got, want)
    return got


def nontrivial(out, min_distinct=3):
    """The outputs are not constant (a test on all-zero outputs would prove nothing)."""
    for o in out if isinstance(out, list) else [out]:
        assert len(np.unique(o)) >= min_distinct, np.unique(o)


def traced(model, shape, path, io_type, layers, default="fixed<16,6>"):
    """Convert with every layer traced and compile (cached): ``check_traced`` then compares every
    layer's output, not only the model's."""
    model = model.eval()
    cfg = config(model, shape, default=default, layers=layers)
    for entry in cfg["LayerName"].values():
        entry["Trace"] = True
    hm = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(path), backend="Vivado",
                                                      io_type=io_type)
    hm.config.trace_output = True
    return compile_cached(hm)


def check_traced(hm, x):
    """emulate == predict, and every traced layer's C-simulation output equals the emulated
    tensor bit for bit. Returns (output, {layer: values compared})."""
    out = check(hm, x)
    hm.compile = lambda: None  # trace() recompiles; the cached library already has the tracing
    _, trace = hm.trace(x)
    g = fx.hls4ml.to_graph(hm)
    n = len(x)
    raws = [quantize_input(x.reshape((n,) + shape), fmt) for _, shape, fmt in g.inputs]
    values = g.run_raw(raws, keep=True)
    counts = {}
    for name, want in trace.items():
        raw, fmt = values[name]
        got = fx.FixedArray(raw.reshape(n, -1), fmt, _trusted=True).to_float().astype(want.dtype)
        assert_bits_equal(got, want.reshape(n, -1))
        counts[name] = got.size
        nontrivial(want, 3)  # every traced layer's output varies
    hm._fx_values, hm._fx_trace = values, trace
    return out, counts


def differs(hm, name, op):
    """The alternative ``op`` on layer ``name``'s emulated input gives another result than the
    C-simulation's trace: the setting it changes matters on these inputs."""
    g = fx.hls4ml.to_graph(hm)
    node = g.node(name)
    raw, fmt = op(*(part for t in node.inputs for part in hm._fx_values[t]))
    n = raw.shape[0]
    got = fx.FixedArray(raw.reshape(n, -1), fmt, _trusted=True).to_float()
    return bool((got != hm._fx_trace[name].reshape(n, -1)).any())
