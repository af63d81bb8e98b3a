"""Concurrency (issue 17): 8 Python threads calling quantize, arithmetic, matmul (exact,
accumulator, sparse, binary) and the emulation engine (``fx.Network.emulate``) at the same
time get exactly the serial results, also while another thread changes the kernels' thread
count. The per-feature files test one kernel family under threads each (test_quantize.py,
test_gemm.py, test_reductions.py, test_sparse.py, test_binary.py); this one mixes them, so the
kernels share the thread pool, the ISA dispatch and the GIL releases of the bindings.

The serial results are themselves anchored on independent references (the pure-Python model,
NumPy's integer matmul on exact raws), so a wrong-but-stable kernel also fails here.
"""

from __future__ import annotations

import concurrent.futures
import threading

import numpy as np
import pytest

import fixedpoint as fx
from fixedpoint import _reference as ref

N_THREADS = 8


def _obj(a: fx.FixedArray) -> np.ndarray:
    r = np.asarray(a.raw)
    return r.astype(object) if r.dtype != object else r


def _raw(a) -> np.ndarray:
    if isinstance(a, fx.FixedArray):
        return _obj(a)
    return np.asarray(a)


@pytest.fixture(scope="module")
def workload():
    """name -> zero-argument callable; inputs are built once and only read by the jobs."""
    rng = np.random.default_rng(2024)
    x = rng.normal(0, 4, 60_000)
    x[::97] = (rng.integers(-300, 300, x[::97].size) + 0.5) / 16  # ties of ap_fixed<12,8>
    q_sat = fx.Fixed(12, 8, q="RND_CONV", o="SAT")
    q_stoch = fx.Fixed(10, 5, q="STOCH", o="WRAP")
    q_wide = fx.Fixed(100, 40, q="RND", o="SAT_SYM")
    fa, fb = fx.Fixed(16, 6), fx.Fixed(12, 4, signed=False)
    a = fx.from_raw(rng.integers(-2**15, 2**15, (300, 200)), fa)
    b = fx.from_raw(rng.integers(0, 2**12, (300, 200)), fb)
    b_nz = fx.from_raw(rng.integers(1, 2**12, (300, 200)), fb)
    w80 = fx.Fixed(80, 30)
    aw = fx.from_raw(np.array([int(v) << 16 for v in rng.integers(-2**60, 2**60, 4000)], dtype=object), w80)
    bw = fx.from_raw(np.array([int(v) for v in rng.integers(-2**62, 2**62, 4000)], dtype=object), w80)
    m1 = fx.from_raw(rng.integers(-128, 128, (96, 160)), fx.Fixed(8, 2))
    m2 = fx.from_raw(rng.integers(-128, 128, (160, 72)), fx.Fixed(8, 3))
    m3 = fx.from_raw(rng.integers(-2**30, 2**30, (40, 60)), fx.Fixed(32, 10))
    m4 = fx.from_raw(rng.integers(-2**30, 2**30, (60, 30)), fx.Fixed(32, 12))
    acc_sat = fx.Fixed(14, 6, q="RND", o="SAT")  # order dependent: the sequential kernel
    acc_wrap = fx.Fixed(13, 5, q="TRN", o="WRAP")
    wts = m2.T.copy()
    wts_dense = fx.from_raw(np.where(rng.random(wts.shape) < 0.8, 0, _obj(wts)), wts.fmt)
    sp = fx.SparseFixed.from_dense(wts_dense)
    bias = fx.from_raw(rng.integers(-512, 512, 72), fx.Fixed(10, 4))
    sa = rng.normal(size=(64, 333))
    sb = rng.normal(size=(333, 48))
    pa, pb = fx.binary.pack(sa, axis=1), fx.binary.pack(sb, axis=0)
    W1, b1 = rng.normal(0, 0.5, (16, 32)), rng.normal(0, 0.2, 32)
    W2, b2 = rng.normal(0, 0.5, (32, 5)), rng.normal(0, 0.2, 5)
    net = fx.Network([fx.Dense(W1, b1, "relu"), fx.Dense(W2, b2)])
    cfg = {"input": fx.Fixed(10, 4, q="RND", o="SAT")}
    for layer, (acc, res) in zip(net.layers, [(fx.Fixed(14, 6, o="SAT"), fx.Fixed(10, 5)),
                                              (fx.Fixed(16, 7), fx.Fixed(12, 6))]):
        cfg[layer.name] = {"weight": fx.Fixed(7, 1, q="RND"), "bias": fx.Fixed(9, 3), "accum": acc, "result": res}
    X = rng.normal(0, 2, (500, 16))
    jobs = {
        "quantize_sat": lambda: fx.array(x, q_sat),
        "quantize_stoch": lambda: fx.array(x, q_stoch, seed=77),
        "quantize_wide": lambda: fx.array(x[:3000], q_wide),
        "cast": lambda: fx.array(x, q_sat).cast(fx.Fixed(7, 3, q="RND_INF", o="WRAP", n=2)),
        "add": lambda: a + b,
        "mul": lambda: a * b,
        "div": lambda: a / b_nz,
        "neg_wide": lambda: -aw,
        "mul_wide": lambda: aw * bw,
        "sum": lambda: (a * b).sum(axis=1),
        "matmul_int16": lambda: m1 @ m2,
        "matmul_i64": lambda: m3 @ m4,
        "matmul_accum_sat": lambda: fx.matmul(m1, m2, accum=acc_sat),
        "matmul_accum_wrap": lambda: fx.matmul(m1, m2, accum=acc_wrap),
        "linear_accum": lambda: fx.linear(m1, wts, bias, accum=acc_sat),
        "sparse": lambda: fx.matmul(sp, m1.T.copy()),
        "sparse_linear": lambda: fx.linear(m1, sp, bias, accum=acc_wrap),
        "xnor": lambda: fx.binary.xnor_matmul(pa, pb),
        "emulate": lambda: net.emulate(X, cfg),
    }
    refs = {"x": x, "q_sat": q_sat, "a": a, "b": b, "m1": m1, "m2": m2, "m3": m3, "m4": m4, "sa": sa, "sb": sb,
            "wts_dense": wts_dense}
    return jobs, refs


@pytest.fixture
def restore_threads():
    before = fx.get_num_threads()
    yield
    fx.set_num_threads(before)


def test_serial_results_are_right(workload):
    """Anchor the serial results on references that share no code with the kernels."""
    jobs, r = workload
    q = r["q_sat"]
    got = _obj(jobs["quantize_sat"]())
    for k in range(0, r["x"].size, 601):
        assert got[k] == ref.from_double(float(r["x"][k]), q.w, q.i, q.signed, q.q.value, q.o.value, q.n)
    np.testing.assert_array_equal(_obj(jobs["add"]()), _obj(r["a"]) + (_obj(r["b"]) << 2))  # F = max(10, 8)
    np.testing.assert_array_equal(_obj(jobs["mul"]()), _obj(r["a"]) * _obj(r["b"]))
    np.testing.assert_array_equal(_obj(jobs["matmul_int16"]()), _obj(r["m1"]) @ _obj(r["m2"]))
    np.testing.assert_array_equal(_obj(jobs["matmul_i64"]()), _obj(r["m3"]) @ _obj(r["m4"]))
    np.testing.assert_array_equal(_obj(jobs["sparse"]()), _obj(r["wts_dense"]) @ _obj(r["m1"]).T)
    sa, sb = np.where(r["sa"] >= 0, 1, -1), np.where(r["sb"] >= 0, 1, -1)
    np.testing.assert_array_equal(jobs["xnor"](), sa @ sb)


@pytest.mark.parametrize("toggle_threads", [False, True], ids=["fixed-threads", "set_num_threads-racing"])
def test_eight_python_threads_equal_serial(workload, restore_threads, toggle_threads):
    jobs, _ = workload
    names = sorted(jobs)
    fx.set_num_threads(2)
    serial = {n: _raw(jobs[n]()) for n in names}
    fmts = {n: getattr(jobs[n](), "fmt", None) for n in names}
    stop = threading.Event()

    def toggler():  # results never depend on the thread count, not even while it changes
        k = 0
        while not stop.is_set():
            fx.set_num_threads(1 + k % 3)
            k += 1
            stop.wait(0.002)

    def worker(t):
        out = []
        order = names[t % len(names):] + names[:t % len(names)]  # every thread starts elsewhere
        for _ in range(3):
            for n in order:
                res = jobs[n]()
                out.append((n, _raw(res), getattr(res, "fmt", None)))
        return out

    tog = threading.Thread(target=toggler) if toggle_threads else None
    if tog:
        tog.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(N_THREADS) as ex:
            results = list(ex.map(worker, range(N_THREADS)))
    finally:
        stop.set()
        if tog:
            tog.join()
    checked = 0
    for out in results:
        for n, raw, fmt in out:
            assert fmt == fmts[n], n
            np.testing.assert_array_equal(raw, serial[n], err_msg=n)
            checked += 1
    assert checked == N_THREADS * 3 * len(names)


def test_blas_one_thread_limits_and_restores_from_the_main_thread():
    """blas_one_thread, entered from the main thread: BLAS runs on one thread inside (nested uses
    too) and gets its thread count back on leaving, also after an exception. From another thread
    it leaves BLAS alone (OpenBLAS would not take the count back from there)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fixedpoint._runtime import blas_one_thread

    def blas_threads():
        return {m["num_threads"] for m in threadpoolctl.threadpool_info() if m["user_api"] == "blas"}

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        if before != {2}:
            pytest.skip(f"NumPy's BLAS threads are not settable here ({before})")
        with blas_one_thread():
            assert blas_threads() == {1}
            with blas_one_thread():
                assert blas_threads() == {1}
            assert blas_threads() == {1}
        assert blas_threads() == before
        with pytest.raises(ZeroDivisionError), blas_one_thread():
            1 / 0  # noqa: B018
        assert blas_threads() == before
        seen = []

        def other():
            with blas_one_thread():
                seen.append(blas_threads())

        t = threading.Thread(target=other)
        t.start()
        t.join(10)
        assert seen == [before] and blas_threads() == before


def test_the_engine_runs_blas_on_one_thread(monkeypatch):
    """Graph.run_raw (every emulation) runs its layers with BLAS on one thread, and BLAS has its
    thread count back afterwards."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from fixedpoint.nn.dense import DenseOp

    def blas_threads():
        return {m["num_threads"] for m in threadpoolctl.threadpool_info() if m["user_api"] == "blas"}

    seen, real = [], DenseOp.__call__
    monkeypatch.setattr(DenseOp, "__call__", lambda self, *a, **k: seen.append(blas_threads()) or real(self, *a, **k))
    rng = np.random.default_rng(5)
    net = fx.Network([fx.Dense(rng.normal(0, 0.5, (8, 16)), rng.normal(0, 0.1, 16), "relu"),
                      fx.Dense(rng.normal(0, 0.5, (16, 3)), rng.normal(0, 0.1, 3))])
    t = fx.Fixed(12, 4)
    cfg = {"input": t, **{lay.name: {"weight": t, "bias": t, "accum": fx.Fixed(24, 8), "result": t} for lay in net.layers}}
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("NumPy's BLAS threads are not settable here")
        net.emulate(rng.normal(0, 1, (100, 8)), cfg)
        assert seen and all(s == {1} for s in seen)
        assert blas_threads() == {2}
