"""fixedpoint.dask on a real cluster: a distributed.LocalCluster with 2 worker processes (one
thread each), started once for this module and closed at its end.

- ``fxd.emulate`` equals the in-memory emulation (``net.emulate``; ``fx.hls4ml.emulate`` for an
  hls4ml model) bit for bit for several chunkings: one chunk, one-event chunks, uneven chunks;
- the prepared graph pickles (a round trip emulates the same) and enters the task graph once;
- ``fxd.quantize`` with STOCH gives the same bits for every chunking, equal to ``fx.array`` on
  the whole array (whose counter keys each element by its flat index); the seed shift it uses
  is checked against the pure-Python reference generator;
- a worker killed mid-computation, or ``client.restart()`` mid-computation, does not change a
  recomputation, and a cancelled computation raises (nothing is dropped);
- ``fxd.map_shared`` equals the serial map, scatters once per object, again after a restart,
  and raises a task's exception;
- reading .npy/Zarr, writing .npy/Zarr, and the summary (checked against NumPy on the
  in-memory result);
- bad input raises before any task reaches the scheduler.
"""

from __future__ import annotations

import os
import pickle
import signal
import time

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="dask is not installed (pip install -e '.[dask]')")
da = pytest.importorskip("dask.array", reason="dask[array] is not installed (pip install -e '.[dask]')")
distributed = pytest.importorskip("distributed", reason="distributed is not installed (pip install -e '.[dask]')")

import fixedpoint as fx  # noqa: E402
import fixedpoint.dask as fxd  # noqa: E402
from fixedpoint import _pyint, _sharded  # noqa: E402
from fixedpoint import _reference as ref  # noqa: E402
from fixedpoint.nn._raw import quantize_input  # noqa: E402

F = fx.Fixed


@pytest.fixture(scope="module")
def client():
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 64 << 20}):  # speed only
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                           worker_dashboard_address=":0")
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _scheduler_tasks(client) -> int:
    return client.run_on_scheduler(_count_tasks)


def _settled_tasks(client, timeout: float = 30.0) -> int:
    """The scheduler's task count once earlier tests' released futures are forgotten (the same
    count three times, 0.2 s apart)."""
    import time

    seen, t_end = [], time.monotonic() + timeout
    while time.monotonic() < t_end:
        seen.append(_scheduler_tasks(client))
        if len(seen) >= 3 and len(set(seen[-3:])) == 1:
            break
        time.sleep(0.2)
    return seen[-1]


def _count_tasks(dask_scheduler=None):
    return len(dask_scheduler.tasks)


def _net(n_in=16, hidden=32, n_out=5, seed=0):
    rng = np.random.default_rng(seed)
    net = fx.Network([fx.Dense(rng.normal(0, 0.5, (n_in, hidden)), rng.normal(0, 0.2, hidden), "relu"),
                      fx.Dense(rng.normal(0, 0.5, (hidden, n_out)), rng.normal(0, 0.2, n_out))])
    cfg = {"input": F(12, 4, q="RND", o="SAT"),
           "_0": dict(weight=F(8, 2), bias=F(8, 2), accum=F(18, 8, q="RND", o="SAT"), result=F(10, 4, o="SAT")),
           "_2": dict(weight=F(8, 2), bias=F(8, 2), accum=F(20, 8), result=F(10, 3, q="RND", o="SAT"))}
    return net, cfg


def _events(n, n_in=16, seed=1, dtype=np.float32):
    x = np.random.default_rng(seed).normal(0, 3.0, (n, n_in)).astype(dtype)
    x[:3] = 0
    x[3:6] = 50  # beyond the input range: saturates
    return x


CHUNKINGS = {
    "one_chunk": lambda n: (n,),
    "one_event_chunks": lambda n: (1,) * n,
    "uneven": lambda n: (1, 40, 2, n - 43 - 50, 50),
    "uneven_last": lambda n: (64,) * (n // 64) + ((n % 64,) if n % 64 else ()),
}


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
def test_emulate_network_equals_in_memory(client, chunking):
    net, cfg = _net()
    n = 157 if chunking != "one_event_chunks" else 23
    x = _events(n)
    want = net.emulate(x, cfg)
    assert len(np.unique(want.raw)) > 20 and (want.raw == want.fmt.raw_max).any()  # nontrivial, some saturate
    chunks = CHUNKINGS[chunking](n)
    assert sum(chunks) == n
    xd = da.from_array(x, chunks=(chunks, 16))
    raw = fxd.emulate(net, xd, cfg, raw=True)
    vals = fxd.emulate(net, xd, cfg)
    assert raw.chunks == (chunks, (5,)) and raw.dtype == np.int64 and vals.dtype == np.float64
    got_raw, got_vals = client.compute([raw, vals], sync=True)
    np.testing.assert_array_equal(got_raw, want.raw)
    np.testing.assert_array_equal(got_vals.view(np.uint64), want.to_float().view(np.uint64))


def test_emulate_float64_events_and_per_sample_shape(client):
    net, cfg = _net(n_in=12)
    x = _events(90, n_in=12, dtype=np.float64)
    xd = da.from_array(x.reshape(90, 3, 4), chunks=(25, 3, 4))  # events of 3x4 values, the model's 12
    got = fxd.emulate(net, xd, cfg, raw=True).compute()
    np.testing.assert_array_equal(got, net.emulate(x, cfg).raw)


def test_plan_pickles_and_enters_the_graph_once():
    net, cfg = _net(n_in=64, hidden=128)  # weights large enough to see in a pickled task
    graph = net.to_graph(cfg)
    payload = pickle.dumps(graph)
    back = pickle.loads(payload)
    x = _events(50, n_in=64)
    xs = [quantize_input(x, cfg["input"])]
    np.testing.assert_array_equal(back.run_raw(xs)["_2"][0], graph.run_raw(xs)["_2"][0])

    out = fxd.emulate(net, da.from_array(x, chunks=(5, 64)), cfg)
    for g in (out.__dask_graph__(), dask.optimize(out)[0].__dask_graph__()):
        sizes = {k: len(pickle.dumps(v)) for k, v in dict(g).items()}
        heavy = [k for k, s in sizes.items() if s >= len(payload) // 2]
        assert len(heavy) == 1 and str(heavy[0]).startswith("fixedpoint-plan-"), sizes
        blocks = [s for k, s in sizes.items() if isinstance(k, tuple) and str(k[0]).startswith("fixedpoint-emulate")]
        assert len(blocks) == 10 and max(blocks) < len(payload) // 10


def test_emulate_hls4ml_equals_in_memory(client, tmp_path):
    h = pytest.importorskip("_hls4ml", reason="hls4ml/torch are not installed")
    torch = h.torch
    model = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5),
                                torch.nn.Sigmoid())
    torch.manual_seed(3)
    for lin in (model[0], model[2]):
        torch.nn.init.normal_(lin.weight, 0, 0.6)
    cfg = h.config(model.eval(), (10,), layers={"_0": {"accum": "fixed<14,6,RND,SAT>", "result": "fixed<10,4,RND,SAT>"}})
    hm = h.hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, output_dir=str(tmp_path / "prj"),
                                                        backend="Vivado", io_type="io_parallel")
    x = h.inputs((10,), n=211)
    want = fx.hls4ml.emulate(hm, x)
    h.nontrivial(want, 20)
    back = pickle.loads(pickle.dumps(fx.hls4ml.to_graph(hm)))
    h.assert_bits_equal(fx.hls4ml.run_graph(back, x), want)
    for chunks in [(211,), (1,) * 7 + (204,), (100, 100, 11)]:
        out = fxd.emulate(hm, da.from_array(x, chunks=(chunks, 10)))
        assert out.dtype == np.float32
        h.assert_bits_equal(client.compute(out, sync=True), want)
    raw = fxd.emulate(hm, da.from_array(x, chunks=(50, 10)), raw=True).compute()
    [fmt] = fxd.output_formats(hm)
    np.testing.assert_array_equal(fx.from_raw(raw, fmt).to_float().astype(np.float32), want)


# ---------------------------------------------------------------------------------------------
# quantize
# ---------------------------------------------------------------------------------------------
def test_seed_shift_matches_the_reference_generator():
    rng = np.random.default_rng(5)
    for seed in [0, 1, 2**64 - 1, *(int(s) for s in rng.integers(0, 2**63, 5))]:
        for offset in [0, 1, 7, 1000, 2**40 + 3]:
            shifted = _pyint.seed_at(seed, offset)
            for j in [0, 1, 99]:
                assert ref.stoch_bits(shifted, j) == ref.stoch_bits(seed, offset + j)


@pytest.mark.parametrize("fmt", [F(6, 2, q="STOCH", o="SAT"), F(10, 3, signed=False, q="STOCH"), F(64, 20, q="STOCH")])
def test_quantize_stoch_independent_of_chunking(client, fmt):
    x = np.random.default_rng(2).normal(0, 2.0, (101, 7))
    want = fx.array(x, fmt, seed=1234).raw
    got = []
    for chunks in [(101,), (1,) * 101, (1, 50, 3, 47), (64, 37)]:
        q = fxd.quantize(da.from_array(x, chunks=(chunks, 7)), fmt, seed=1234)
        got.append(client.compute(q, sync=True))
        np.testing.assert_array_equal(got[-1], want)
    assert len(np.unique(got[0])) > 10
    other = fx.array(x, fmt, seed=1235).raw
    assert (other != want).any()  # the seed matters (the test could fail)


def test_quantize_stoch_1d_and_3d_and_ints():
    fmt = F(5, 1, q="STOCH", o="SAT")
    v = np.random.default_rng(3).normal(0, 1.0, 1001)
    np.testing.assert_array_equal(fxd.quantize(da.from_array(v, chunks=77), fmt, seed=9).compute(),
                                  fx.array(v, fmt, seed=9).raw)
    c = np.random.default_rng(4).normal(0, 1.0, (30, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(fxd.quantize(da.from_array(c, chunks=(7, 4, 5)), fmt, seed=9).compute(),
                                  fx.array(c, fmt, seed=9).raw)
    ints = np.arange(-50, 50, dtype=np.int16).reshape(20, 5)
    fi = F(6, 3, q="STOCH", o="SAT")
    np.testing.assert_array_equal(fxd.quantize(da.from_array(ints, chunks=(3, 5)), fi, seed=2).compute(),
                                  fx.array(ints, fi, seed=2).raw)


def test_quantize_deterministic_any_chunking_and_nan():
    fmt = F(8, 3, q="RND_CONV", o="SAT")
    x = np.random.default_rng(6).normal(0, 3, (40, 6))
    # without STOCH any chunking is fine, the feature axis included
    np.testing.assert_array_equal(fxd.quantize(da.from_array(x, chunks=(7, 4)), fmt).compute(),
                                  fx.array(x, fmt).raw)
    x[23, 4] = np.nan
    q = fxd.quantize(da.from_array(x, chunks=(10, 6)), fmt)
    with pytest.raises(ValueError, match=r"NaN at index \(23, 4\)"):
        q.compute()
    np.testing.assert_array_equal(fxd.quantize(da.from_array(x, chunks=(10, 6)), fmt, nan="ap").compute(),
                                  fx.array(x, fmt, nan="ap").raw)
    # STOCH with seed=None: one seed drawn when the lazy array is built
    s = fxd.quantize(da.from_array(np.linspace(0, 1, 50), chunks=10), F(4, 1, q="STOCH"))
    np.testing.assert_array_equal(s.compute(), s.compute())


# ---------------------------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------------------------
def _pids(client):
    return client.run(os.getpid)


# ---------------------------------------------------------------------------------------------
# map_shared
# ---------------------------------------------------------------------------------------------
def _accuracy(shared, frac):
    net, x, y = shared["net"], shared["x"], shared["y"]
    fmt = F(frac + 4, 4, q="RND", o="SAT")
    cfg = {"input": fmt, **{lay.name: dict(weight=fmt, bias=fmt, accum=F(24, 10), result=fmt) for lay in net.layers}}
    return int(np.sum(np.argmax(net.emulate(x, cfg).raw, axis=1) == y))


def _fails(shared, item):
    if item == 3:
        raise ArithmeticError(f"item {item} failed")
    return item


def test_map_shared_equals_serial_and_scatters_once(client, monkeypatch):
    net, _ = _net()
    x = _events(2_000, seed=11)
    shared = {"net": net, "x": x, "y": np.argmax(net.predict(x), axis=1)}
    items = list(range(0, 9))
    serial = [_accuracy(shared, k) for k in items]
    assert len(set(serial)) > 3
    calls = []
    real = client.scatter
    monkeypatch.setattr(client, "scatter", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert fxd.map_shared(client, _accuracy, shared, items) == serial
    assert fxd.map_shared(client, _accuracy, shared, items[::-1]) == serial[::-1]
    assert len(calls) == 1  # the second call reused the scattered copy
    [(fut_shared, fut)] = [v for v in fxd._SHARED[client.id].values() if v[0] is shared]
    assert len(client.who_has([fut])[fut.key]) == 2  # broadcast to both workers
    with pytest.raises(ArithmeticError, match="item 3 failed"):
        fxd.map_shared(client, _fails, shared, range(6))
    assert fxd.map_shared(client, _accuracy, shared, []) == []


# ---------------------------------------------------------------------------------------------
# read, write, summary
# ---------------------------------------------------------------------------------------------
def test_read_default_blocks_are_equal_and_at_most_16_mib(tmp_path, monkeypatch):
    """Without rows= (and without a cluster), the blocks are as equal as the event count allows
    and hold at most about 16 MiB, so the workers get equal shares (no small last block); rows= is
    taken as given."""
    monkeypatch.setattr(fxd, "_client", lambda: None)
    path = tmp_path / "wide.npy"
    np.save(path, np.zeros((2_500, 4_096), dtype=np.float32))  # 16 KiB per event: 1,024 per 16 MiB
    blocks = fxd.read(path).chunks[0]
    assert sum(blocks) == 2_500 and len(blocks) == 3 and max(blocks) <= 1_024
    assert max(blocks) - min(blocks) < len(blocks)
    assert fxd.read(path, rows=1_000).chunks[0] == (1_000, 1_000, 500)


def test_read_default_blocks_fill_the_cluster_threads(client, tmp_path):
    """With a current client, the default block count is a multiple of the cluster's worker
    threads (2 here): 3 blocks would leave one worker running the third alone, so 4 are made.
    Blocks are not split below about 1 MiB for it, and rows= is taken as given."""
    assert sum(client.nthreads().values()) == 2
    path = tmp_path / "wide.npy"
    np.save(path, np.zeros((2_500, 4_096), dtype=np.float32))  # 16 KiB per event: 3 blocks of <= 16 MiB
    assert fxd.read(path).chunks[0] == (625,) * 4
    assert fxd.read(path, rows=1_000).chunks[0] == (1_000, 1_000, 500)
    np.save(path, np.zeros((100, 4_096), dtype=np.float32))  # 1.6 MiB: two blocks would be under 1 MiB
    assert fxd.read(path).chunks[0] == (100,)
    np.save(path, np.zeros((4_096, 1_024), dtype=np.float32))  # 16 MiB exactly: one block of 4 KiB events ...
    assert fxd.read(path).chunks[0] == (2_048, 2_048)  # ... split in two of 8 MiB


def test_read_npy_write_npy_zarr_and_summary(client, tmp_path):
    net, cfg = _net()
    x = _events(1_003, seed=12)
    np.save(tmp_path / "events.npy", x)
    xd = fxd.read(tmp_path / "events.npy", rows=100)
    assert xd.chunks == ((100,) * 10 + (3,), (16,))
    raw = fxd.emulate(net, xd, cfg, raw=True)
    want = net.emulate(x, cfg).raw
    fxd.write(raw, tmp_path / "out.npy", progress=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), want)
    with pytest.raises(FileExistsError):
        fxd.write(raw, tmp_path / "out.npy")
    (fmt,) = fxd.output_formats(net, cfg)
    s = fxd.summary(raw, fmt, progress=True)
    assert s["events"] == 1003
    np.testing.assert_array_equal(s["class_counts"], np.bincount(np.argmax(want, axis=1), minlength=5))
    np.testing.assert_array_equal(s["at_max"], (want == 2**9 - 1).sum(axis=0))  # fixed<10,3>: raw in [-512, 511]
    np.testing.assert_array_equal(s["at_min"], (want == -2**9).sum(axis=0))
    assert s["at_max"].sum() + s["at_min"].sum() > 0

    pytest.importorskip("zarr", reason="zarr is not installed")
    fxd.write(raw, tmp_path / "out.zarr")
    back = fxd.read(tmp_path / "out.zarr", rows=333)
    assert back.chunks[0][0] == 333
    np.testing.assert_array_equal(back.compute(), want)
    fxd.write(da.from_array(x, chunks=(250, 8)), tmp_path / "events.zarr")  # events from Zarr, rechunked
    xz = fxd.read(tmp_path / "events.zarr", rows=300)
    assert xz.chunks == ((300, 300, 300, 103), (16,))
    np.testing.assert_array_equal(fxd.emulate(net, xz, cfg, raw=True).compute(), want)
    (got,) = fxd.compute(fxd.emulate(net, xd, cfg), progress=True)
    np.testing.assert_array_equal(got, net.emulate(x, cfg).to_float())


def test_read_root_with_uproot(tmp_path):
    uproot = pytest.importorskip("uproot", reason="uproot is not installed (ROOT input is optional)")
    x = _events(500, n_in=3, dtype=np.float32)
    with uproot.recreate(tmp_path / "ev.root") as f:
        tree = f.mktree("events", {"a": np.float32, "b": np.float32, "c": np.float32})  # a TTree
        tree.extend({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})
    got = fxd.read(tmp_path / "ev.root", key="events", branches=["a", "b", "c"])
    np.testing.assert_array_equal(got.compute(), x)


# ---------------------------------------------------------------------------------------------
# bad input: clear errors, nothing submitted
# ---------------------------------------------------------------------------------------------
class _FakeLayer:
    def __init__(self, name, cls):
        self.name, self.class_name, self.inputs, self.outputs, self.attributes = name, cls, [], [name], {}


class _FakeModel:
    config = None

    def get_layers(self):
        return [_FakeLayer("in", "InputLayer"), _FakeLayer("lstm", "LSTM")]


def test_bad_input_raises_before_any_task(client):
    net, cfg = _net()
    x = da.from_array(_events(40), chunks=(10, 16))
    before = _settled_tasks(client)
    with pytest.raises(ValueError, match=r"fxd.emulate: X must be chunked along the first .* axis 1 has chunks "
                                         r"\(8, 8\).*rechunk"):
        fxd.emulate(net, x.rechunk((10, 8)), cfg)
    with pytest.raises(TypeError, match=r"fxd.emulate: X must be float32 or float64.*int32"):
        fxd.emulate(net, x.astype(np.int32), cfg)
    with pytest.raises(TypeError, match=r"float32 or float64.*float16"):
        fxd.emulate(net, x.astype(np.float16), cfg)
    with pytest.raises(NotImplementedError, match=r"layers not emulated: lstm \(LSTM\)"):
        fxd.emulate(_FakeModel(), x)
    with pytest.raises(TypeError, match="must be a dask.array"):
        fxd.emulate(net, np.zeros((4, 16), np.float32), cfg)
    with pytest.raises(TypeError, match="needs config="):
        fxd.emulate(net, x)
    with pytest.raises(KeyError, match="config has no entry for '_2'"):
        fxd.emulate(net, x, {k: v for k, v in cfg.items() if k != "_2"})
    with pytest.raises(ValueError, match=r"each event of X has shape \(15,\).*\(16,\)"):
        fxd.emulate(net, x[:, :15], cfg)
    with pytest.raises(TypeError, match="hls4ml ModelGraph or an fx.Network"):
        fxd.emulate(object(), x)
    with pytest.raises(ValueError, match=r"fxd.quantize: X must be chunked .*STOCH"):
        fxd.quantize(x.rechunk((10, 8)), F(8, 3, q="STOCH"), seed=1)
    with pytest.raises(NotImplementedError, match="wider than 64 bits"):
        fxd.quantize(x, F(80, 10))
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\)"):
        fxd.quantize(x, F(8, 3, q="STOCH"), seed=-1)
    with pytest.raises(TypeError, match="map_shared: client must be"):
        fxd.map_shared(None, _fails, 1, [1])
    assert _scheduler_tasks(client) == before


def test_scan_with_client_equals_serial(client, monkeypatch):
    """fx.scan(client=): the candidates of each step run on the cluster, the search replays on
    them; every choice, step and trial equals the serial scan's."""
    X, y = fx.datasets.blobs(900, seed=4, spread=2.2)
    (w1, b1), (w2, b2) = fx.datasets.train_mlp(X, y, seed=4, steps=200)
    net = fx.Network([fx.Dense(w1, b1, "relu"), fx.Dense(w2, b2)])
    for mode in ("global", "layer"):
        serial = fx.scan(net, X, y, tolerance=0.01, mode=mode, progress=False)
        dist = fx.scan(net, X, y, tolerance=0.01, mode=mode, progress=False, client=client)
        assert dist.config == serial.config and dist.steps == serial.steps and dist.trials == serial.trials
        assert dist.metric_fixed == serial.metric_fixed and dist.evaluations == serial.evaluations
        assert dist.flags == serial.flags and dist.layers == serial.layers  # overflow counts summed over shards
    h = pytest.importorskip("_hls4ml", reason="hls4ml/torch are not installed")
    torch = h.torch
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3),
                                torch.nn.Softmax(dim=1)).eval()
    Xf = X.astype(np.float32)
    yf = model(torch.from_numpy(Xf)).argmax(1).numpy()
    serial = fx.scan(model, Xf, yf, input_shape=(8,), tolerance=0.01, progress=False)
    calls, lost = [], []
    real = _sharded._Sharded.__call__

    def call(self, *a, **k):  # the workers forget their ops and memo before every 3rd evaluation
        calls.append(self)
        if len(calls) % 3 == 0:
            lost.append(sum(client.run(_forget).values()))
        return real(self, *a, **k)

    monkeypatch.setattr(_sharded._Sharded, "__call__", call)
    dist = fx.scan(model, Xf, yf, input_shape=(8,), tolerance=0.01, progress=False, client=client)
    assert dist.config == serial.config and dist.steps == serial.steps and dist.trials == serial.trials
    np.testing.assert_array_equal(dist.emulated[0].view(np.uint64), serial.emulated[0].view(np.uint64))
    assert len(calls) >= dist.evaluations and lost and min(lost) > 0  # evaluated on the cluster, state lost
    assert calls[-1].resent >= 1  # a worker missed an op sent before, said so, and was sent every op again


def _forget() -> int:
    n = len(_sharded._STATE)
    _sharded._STATE.clear()
    return n


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def _memo_sizes(client) -> list:
    return sorted(client.run(lambda: sorted(len(v["memo"]) for v in _sharded._STATE.values())).values())


def test_sharded_network_evaluation_equals_in_memory(client):
    """The data-parallel evaluation fx.scan(client=) uses for an fx.Network: the events split
    across the two workers (one shard each, scattered once), every configuration's outputs equal
    net.emulate on the whole array bit for bit, a configuration met before is served from the
    workers' memo, and a configuration with STOCH rounding is refused (None: the caller emulates
    it whole), because STOCH counters are positions in the batch."""
    net, cfg = _net()
    last = {**cfg, "_2": {**cfg["_2"], "result": F(9, 3, o="SAT")}}
    narrow_in = {**cfg, "input": F(10, 4, q="RND", o="SAT")}
    for n in (2_001, 1):
        x = _events(n, seed=12).astype(np.float64)
        ev = _sharded._network_evaluator(client, net, x)
        for c in (cfg, last, narrow_in):
            np.testing.assert_array_equal(_bits(ev(c)), _bits(net.emulate(x, c).to_float()))
        shards = ev.sharded.shards
        assert len(shards) == min(2, n)
        holders = client.who_has([f for _, f in shards])
        assert len({w for f in shards for w in holders[f[1].key]}) == len(shards)  # one shard per worker
        before = _memo_sizes(client)
        np.testing.assert_array_equal(_bits(ev(last)), _bits(net.emulate(x, last).to_float()))
        assert _memo_sizes(client) == before  # met before: nothing recomputed
        assert ev.sharded.calls == 4
    stoch = {**cfg, "_0": {**cfg["_0"], "result": F(10, 4, q="STOCH", o="SAT")}}
    x = _events(2_001, seed=12).astype(np.float64)
    whole = net.emulate(x, stoch).raw
    halves = np.concatenate([net.emulate(x[:1_000], stoch).raw, net.emulate(x[1_000:], stoch).raw])
    assert not np.array_equal(whole, halves)  # why STOCH is not sharded
    ev = _sharded._network_evaluator(client, net, x)
    assert ev(stoch) is None and ev.sharded.calls == 0


def test_sharded_accumulator_counts_equal_in_memory(client):
    """The scan's accumulator overflow counts (final sums and any partial sum outside accum_t,
    and the number of sums) computed on the workers' shards and summed equal the counts on the
    whole array, for accumulators that overflow (narrow WRAP and SAT ones) and one that holds."""
    from fixedpoint._scanning import _accum_overflows, _storage

    net, cfg = _net()
    narrow = {**cfg, "_0": {**cfg["_0"], "accum": F(10, 4, q="RND", o="SAT")},
              "_2": {**cfg["_2"], "accum": F(9, 3)}}
    for n in (2_001, 1):
        x = _events(n, seed=13).astype(np.float64)
        ev = _sharded._network_evaluator(client, net, x)
        for c in (cfg, narrow):
            stages = net.emulate_layers(x, c)
            want = [_accum_overflows(_storage(s), s.fmt, net._dense_op(layer, c[layer.name], None))
                    for layer, s in zip(net.layers, stages)]
            assert ev.accum_counts(c) == want
            if c is narrow and n > 1:
                assert all(final > 0 and anyb >= final for final, anyb, _ in want)  # the counts are exercised
    stoch = {**cfg, "_0": {**cfg["_0"], "accum": F(18, 8, q="STOCH", o="SAT")}}
    assert ev.accum_counts(stoch) is None  # STOCH: computed whole by the caller


@pytest.mark.parametrize("chunking", ["even", "uneven", "one_event"])
def test_overflows_equal_the_whole_array_and_the_wrapped_outputs(client, chunking):
    """fxd.overflows sums per-block counts: they equal the counts on the whole array for every
    chunking. Independently of the counting code, layer _0's WRAP accumulator, also its result
    type, wraps exactly on the sums whose emulated output differs from the one with a wide
    accumulator of the same lsb: the 'final' count."""
    from fixedpoint._scanning import _accum_overflows, _storage

    rng = np.random.default_rng(21)
    net = fx.Network([fx.Dense(rng.normal(0, 0.6, (16, 24)), rng.normal(0, 0.3, 24)),
                      fx.Dense(rng.normal(0, 0.5, (24, 5)), rng.normal(0, 0.2, 5))])
    t = F(12, 4, q="RND", o="SAT")
    narrow, wide = F(9, 3), F(30, 24)  # same lsb: 2^-6
    cfg = {"input": t, "_0": dict(weight=F(8, 2), bias=F(8, 2), accum=narrow, result=narrow),
           "_1": dict(weight=F(8, 2), bias=F(8, 2), accum=F(10, 4, q="RND", o="SAT"), result=t)}
    x = _events(1_003, seed=22).astype(np.float64) * 2
    rows = {"even": 250, "uneven": (400, 3, 600), "one_event": (1, 1_001, 1)}[chunking]
    got = fxd.overflows(net, da.from_array(x, chunks=(rows, -1)), cfg)
    stages = net.emulate_layers(x, cfg)
    for layer, s in zip(net.layers, stages):
        final, anyb, sums = _accum_overflows(_storage(s), s.fmt, net._dense_op(layer, cfg[layer.name], None))
        assert got[layer.name] == {"accum": cfg[layer.name]["accum"].to_hls4ml(), "final": final, "any": anyb,
                                   "sums": sums}
    wrapped = net.emulate_layers(x, cfg)[1].raw
    exact = net.emulate_layers(x, {**cfg, "_0": {**cfg["_0"], "accum": wide, "result": wide}})[1].raw
    assert got["_0"]["final"] == np.count_nonzero(wrapped != exact) > 0
    assert got["_1"]["any"] >= got["_1"]["final"] and got["_1"]["any"] > 0  # the SAT layer saturates
    assert got["_0"]["sums"] == 1_003 * 24


def test_overflows_refuses_what_it_cannot_count(client):
    """Bad input raises before any task, as fxd.emulate's; a 62-bit accumulator is named."""
    net, cfg = _net()
    x = da.from_array(_events(100, seed=3), chunks=(50, -1))
    before = _settled_tasks(client)
    with pytest.raises(NotImplementedError, match="layer '_0'.*accumulator wider than 60"):
        fxd.overflows(net, x, {**cfg, "_0": {**cfg["_0"], "accum": F(62, 30)}})
    with pytest.raises(ValueError, match="chunked along the first"):
        fxd.overflows(net, da.from_array(_events(100, seed=3), chunks=(50, 8)), cfg)
    with pytest.raises(TypeError, match="float32 or float64"):
        fxd.overflows(net, x.astype(np.int32), cfg)
    assert _settled_tasks(client) == before


def test_scan_with_client_stoch_equals_serial(client, monkeypatch):
    """STOCH result rounding: the scans with client= evaluate every candidate here (whole, as the
    serial scan does), so trials and choices still equal the serial scan's."""
    X, y = fx.datasets.blobs(600, seed=6, spread=2.2)
    (w1, b1), (w2, b2) = fx.datasets.train_mlp(X, y, seed=6, steps=200)
    net = fx.Network([fx.Dense(w1, b1, "relu"), fx.Dense(w2, b2)])
    serial = fx.scan(net, X, y, tolerance=0.01, result_rounding="STOCH", progress=False)
    dist = fx.scan(net, X, y, tolerance=0.01, result_rounding="STOCH", progress=False, client=client)
    assert dist.config == serial.config and dist.steps == serial.steps and dist.trials == serial.trials
    h = pytest.importorskip("_hls4ml", reason="hls4ml/torch are not installed")
    torch = h.torch
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.ReLU(), torch.nn.Linear(12, 3)).eval()
    Xf = X.astype(np.float32)
    yf = model(torch.from_numpy(Xf)).argmax(1).numpy()
    calls = []
    real = _sharded._Sharded.__call__
    monkeypatch.setattr(_sharded._Sharded, "__call__", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    kw = dict(input_shape=(8,), tolerance=0.01, result_rounding="STOCH", progress=False)
    serial = fx.scan(model, Xf, yf, **kw)
    dist = fx.scan(model, Xf, yf, client=client, **kw)
    assert dist.config == serial.config and dist.steps == serial.steps and dist.trials == serial.trials
    assert calls == []  # every candidate has STOCH results: none was sharded


def test_restart_mid_computation_raises_then_recomputes(client, monkeypatch):
    """One restart (this distributed version can hang on a third restart of one LocalCluster):
    a computation cancelled by it raises, a recomputation equals, and map_shared scatters its
    data again."""
    net, cfg = _net(hidden=64)
    x = _events(120_000, seed=8)
    want = net.emulate(x, cfg).raw
    shared = {"net": net, "x": x[:2_000], "y": np.argmax(net.predict(x[:2_000]), axis=1)}
    serial = [_accuracy(shared, k) for k in range(4)]
    calls = []
    real = client.scatter
    monkeypatch.setattr(client, "scatter", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert fxd.map_shared(client, _accuracy, shared, range(4)) == serial
    out = fxd.emulate(net, da.from_array(x, chunks=(2_000, 16)), cfg, raw=True)
    fut = client.compute(out)
    time.sleep(0.3)
    client.restart()
    if fut.status != "finished":  # cancelled by the restart: it raises, nothing is half-returned
        with pytest.raises(Exception, match="(?i)cancel"):
            fut.result(timeout=60)
    np.testing.assert_array_equal(client.compute(out, sync=True), want)
    assert fxd.map_shared(client, _accuracy, shared, range(4)) == serial
    assert len(calls) == 2  # the restart lost the scattered copy: scattered again


# ---------------------------------------------------------------------------------------------
# last: a worker killed (its nanny starts a new one; later restarts of this cluster can be slow)
# ---------------------------------------------------------------------------------------------
def test_worker_killed_mid_computation(client):
    net, cfg = _net(hidden=64)
    x = _events(120_000)
    want = net.emulate(x, cfg).raw
    out = fxd.emulate(net, da.from_array(x, chunks=(2_000, 16)), cfg, raw=True)
    fut = client.compute(out)
    time.sleep(0.3)
    victim = next(iter(_pids(client).values()))
    os.kill(victim, signal.SIGKILL)  # the nanny starts a new worker; lost tasks run again
    np.testing.assert_array_equal(fut.result(timeout=120), want)
    client.wait_for_workers(2, timeout=60)
