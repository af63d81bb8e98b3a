"""dask: emulation of many events and a scan step's candidates on a ``distributed.LocalCluster``.

Cases (the clusters are started in set-up, untimed, with one thread per worker process, and
closed when the run ends):

- ``emulate_jet``: the jet tagger's MLP (16-64-32-32-5 with ReLUs, as the hls4ml suite's
  ``jet_softmax`` without its softmax) as an ``fx.Network`` with random weights (seed 0),
  ``fixed<16,6>`` everywhere and ``fixed<38,18>`` accumulators, on events read from a ``.npy``
  file (normal values, seed 1; 10,000,000 events, 200,000 with ``--quick``; ``fxd.read``'s default
  blocks: equal, at most about 16 MiB, and as many as a multiple of the cluster's worker threads,
  so 39 blocks of 256,411 events on 1 worker and 40 of 250,000 on 2). The timed work is the whole
  workflow: read, emulate, summarize (counts per class and outputs at the result type's limits,
  :func:`fixedpoint.dask.summary`).
  - ``in_process`` (baseline): ``net.emulate`` on the memory-mapped file in this process and the
    same counts with NumPy;
  - ``dask_1worker`` / ``dask_2workers``: ``fxd.emulate(..., raw=True)`` + ``fxd.summary`` on a
    LocalCluster of 1 / 2 worker processes.
  Check: the summary equals the in-process one, and in set-up (untimed) the cluster's stored
  integers of every event equal ``net.emulate``'s bit for bit.
- ``scan_candidates``: one scan step of the demo model (8-16-3 MLP trained on the demo blobs):
  16 candidate configurations (uniform ``fixed<f+4,4,RND,SAT>``, f = 2..17) each scored on
  200,000 calibration events (50,000 with ``--quick``): ``serial`` (baseline) is the list
  comprehension, ``dask_2workers`` is ``fxd.map_shared`` (calibration data scattered once, one
  future per candidate). Check: equal scores.
- ``scan_client``: the demo model's whole ``fx.scan`` (an fx.Network, 200,000 calibration
  events): ``serial`` against ``client=`` on 2 workers. Check: the same config and steps.
- ``scan_client_graph``: the same model as a torch module (8-16-3 with the demo MLP's weights,
  converted by hls4ml, no compile) through the graph scan, whose evaluations run data-parallel
  with ``client=`` (the events split across the workers). Check: the same config, steps and
  trials. Skipped without torch/hls4ml.

The thread count the harness sets applies to this process (the in-process baseline and the
serial scan); every worker runs its kernels (and BLAS) on one thread. The workers are started
with ``MALLOC_TRIM_THRESHOLD_`` = 256 MiB and ``MALLOC_MMAP_THRESHOLD_`` = 64 MiB (see
docs/scale.md: distributed's default malloc settings make the emulation up to 5x slower) and
without the statistical profiler (``distributed.worker.profile.enabled: False``).

Goals (reported, never asserted): from 1 to 2 workers >= 1.8x; 1 worker's overhead over the
in-process run <= 15%; the distributed scan step and both fx.scan(client=) cases faster than serial.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from typing import Any

import numpy as np

from bench.model import Case, Impl, Skip, WrongResult, import_fixedpoint

SUITE = "dask"
N_EVENTS, N_EVENTS_QUICK = 10_000_000, 200_000
ROWS = None  # fxd.read's default blocks: at most about 16 MiB (262,144 events of 16 float32 features)
N_CALIB, N_CALIB_QUICK = 200_000, 50_000
SPEEDUP_GOAL, OVERHEAD_GOAL = 1.8, 0.15
MMAP_THRESHOLD, TRIM_THRESHOLD = 64 << 20, 256 << 20

_CLUSTERS: dict[int, Any] = {}


def _client(workers: int):
    """A LocalCluster client with ``workers`` one-thread worker processes (kept for the run)."""
    try:
        import distributed
    except ImportError as exc:
        raise Skip(f"not installed: {exc.name}") from None
    if workers not in _CLUSTERS:
        import dask

        # distributed starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's
        # dynamic mmap threshold: NumPy temporaries are trimmed or unmapped and faulted in again on
        # every layer (a 25,000-event block: 105 ms instead of 20 ms). A 256 MiB trim threshold and
        # a 64 MiB mmap threshold keep the speed (docs/scale.md).
        # The workers' statistical profiler (a thread sampling every thread's stack every 10 ms, for
        # the dashboard) takes the GIL from the compute thread and, with workers on every core, CPU
        # from the other worker: off, as docs/scale.md recommends for throughput (1 -> 2 workers
        # 1.76-1.82x against 1.69-1.79x with it, 10M events).
        env = "distributed.nanny.pre-spawn-environ."
        with dask.config.set({env + "MALLOC_TRIM_THRESHOLD_": TRIM_THRESHOLD,
                              env + "MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD,
                              "distributed.worker.profile.enabled": False}):
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               dashboard_address=":0", worker_dashboard_address=":0",
                                               silence_logs=40)
        client = distributed.Client(cluster, set_as_default=False)
        _CLUSTERS[workers] = client

        def close(client=client, cluster=cluster):
            client.close()
            cluster.close()

        atexit.register(close)
    return _CLUSTERS[workers]


def _dask(workers: int):
    """``(fixedpoint.dask, a client of ``workers`` workers)``; Skip when dask is not installed."""
    try:
        import fixedpoint.dask as fxd
    except ImportError as exc:
        raise Skip(f"not installed: {exc.name}") from None
    return fxd, _client(workers)


def _jet(fx):
    rng = np.random.default_rng(0)
    sizes = [16, 64, 32, 32, 5]
    layers = [fx.Dense(rng.normal(0, 1 / np.sqrt(a), (a, b)), rng.normal(0, 0.1, b), "relu" if k < 3 else "linear")
              for k, (a, b) in enumerate(zip(sizes, sizes[1:]))]
    net = fx.Network(layers)
    t, acc = fx.Fixed(16, 6), fx.Fixed(38, 18)
    cfg = {"input": t, **{lay.name: dict(weight=t, bias=t, accum=acc, result=t) for lay in net.layers}}
    return net, cfg


def _counts(raw: np.ndarray, fmt) -> dict:
    """The summary with NumPy (the in-process peer, and the reference of the check)."""
    m = raw.shape[1]
    return {"events": raw.shape[0], "class_counts": np.bincount(np.argmax(raw, axis=1), minlength=m),
            "at_max": (raw == fmt.raw_max).sum(axis=0), "at_min": (raw == fmt.raw_min).sum(axis=0)}


def _emulate_cases(n: int) -> list[Case]:
    state: dict[str, Any] = {}

    def setup():
        if "path" not in state:
            fx = import_fixedpoint()
            net, cfg = _jet(fx)
            path = os.path.join(tempfile.mkdtemp(prefix="fxbench-dask-"), "events.npy")
            x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 16))
            rng = np.random.default_rng(1)
            for lo in range(0, n, 100_000):
                x[lo:lo + 100_000] = rng.normal(0, 2.0, (min(100_000, n - lo), 16))
            x.flush()
            del x
            raw = net.emulate(np.load(path, mmap_mode="r"), cfg)
            state.update(fx=fx, net=net, cfg=cfg, path=path, want=raw.raw, fmt=raw.fmt,
                         summary=_counts(raw.raw, raw.fmt))
            atexit.register(lambda: os.path.exists(path) and os.remove(path))
        return state

    def check(out):
        want = state["summary"]
        for key, value in want.items():
            if not np.array_equal(np.asarray(out[key]), np.asarray(value)):
                raise WrongResult(f"summary {key}: {out[key]} != {value} (in-process)")

    def in_process():
        s = setup()

        def run():
            r = s["net"].emulate(np.load(s["path"], mmap_mode="r"), s["cfg"])
            return _counts(r.raw, r.fmt)

        return Impl(run=run, check=check)

    def on_cluster(workers):
        def factory():
            s = setup()
            fxd, client = _dask(workers)

            def lazy():
                return fxd.emulate(s["net"], fxd.read(s["path"], rows=ROWS), s["cfg"], raw=True)

            got = client.compute(lazy(), sync=True)  # every event, bit for bit (untimed)
            if got.shape != s["want"].shape or not np.array_equal(got, s["want"]):
                bad = int(np.count_nonzero(got != s["want"])) if got.shape == s["want"].shape else -1
                raise WrongResult(f"{bad} of {s['want'].size} stored integers differ from net.emulate")
            del got

            def run():
                with client.as_current():
                    return fxd.summary(lazy(), s["fmt"])

            return Impl(run=run, check=check)

        return factory

    return [Case(SUITE, "emulate_jet", n, {"in_process": in_process, "dask_1worker": on_cluster(1),
                                             "dask_2workers": on_cluster(2)}, baseline="in_process",
                 description="jet MLP 16-64-32-32-5 on events from a .npy file: emulate + class/limit counts")]


def score(shared, frac: int) -> int:
    """One candidate of a scan step: correct predictions of the demo model under uniform
    ``fixed<frac+4,4,RND,SAT>`` (module level, so that workers can import it)."""
    import fixedpoint as fx

    net, x, y = shared["net"], shared["x"], shared["y"]
    t = fx.Fixed(frac + 4, 4, q="RND", o="SAT")
    cfg = {"input": t, **{lay.name: dict(weight=t, bias=t, accum=fx.Fixed(frac + 16, 16), result=t)
                          for lay in net.layers}}
    return int(np.sum(np.argmax(net.emulate(x, cfg).raw, axis=1) == y))


def _scan_case(n: int) -> Case:
    state: dict[str, Any] = {}
    items = list(range(2, 18))

    def setup():
        if "shared" not in state:
            fx = import_fixedpoint()
            from fixedpoint import _demo_data

            X, y = _demo_data.blobs(3_000, seed=0, spread=2.2)
            (W1, b1), (W2, b2) = _demo_data.train_mlp(X, y, seed=0)
            net = fx.Network([fx.Dense(W1, b1, "relu"), fx.Dense(W2, b2)])
            Xc, yc = _demo_data.blobs(n, seed=5, spread=2.2)
            state["shared"] = {"net": net, "x": Xc, "y": yc}
            state["want"] = [score(state["shared"], k) for k in items]
        return state

    def check(out):
        if list(out) != state["want"]:
            raise WrongResult(f"scores {out} != serial {state['want']}")

    def serial():
        s = setup()
        return Impl(run=lambda: [score(s["shared"], k) for k in items], check=check)

    def distributed_2():
        s = setup()
        fxd, client = _dask(2)
        return Impl(run=lambda: fxd.map_shared(client, score, s["shared"], items), check=check)

    return Case(SUITE, "scan_candidates", n, {"serial": serial, "dask_2workers": distributed_2}, baseline="serial",
                description="16 candidate configurations of the demo model scored on calibration events")


def _scan_client_case(n: int) -> Case:
    """The whole fx.scan of the demo model, serial against client= on 2 workers."""
    state: dict[str, Any] = {}

    def setup():
        if "net" not in state:
            fx = import_fixedpoint()
            from fixedpoint import _demo_data

            X, y = _demo_data.blobs(3_000, seed=0, spread=2.2)
            (W1, b1), (W2, b2) = _demo_data.train_mlp(X, y, seed=0)
            Xc, yc = _demo_data.blobs(n, seed=5, spread=2.2)
            state.update(fx=fx, net=fx.Network([fx.Dense(W1, b1, "relu"), fx.Dense(W2, b2)]), X=Xc, y=yc)
            state["want"] = fx.scan(state["net"], Xc, yc, tolerance=0.01, progress=False)
        return state

    def check(res):
        want = state["want"]
        if res.config != want.config or res.steps != want.steps:
            raise WrongResult("the scan with client= chose other formats than the serial scan")

    def serial():
        s = setup()
        return Impl(run=lambda: s["fx"].scan(s["net"], s["X"], s["y"], tolerance=0.01, progress=False), check=check)

    def distributed_2():
        s = setup()
        _, client = _dask(2)
        return Impl(run=lambda: s["fx"].scan(s["net"], s["X"], s["y"], tolerance=0.01, progress=False, client=client),
                    check=check)

    return Case(SUITE, "scan_client", n, {"serial": serial, "dask_2workers": distributed_2}, baseline="serial",
                description="the whole fx.scan of the demo model: serial vs client= (2 workers)")


def _scan_client_graph_case(n: int) -> Case:
    """The demo model as a torch module (8-16-3, the demo MLP's weights) through the graph scan:
    serial against client= (2 workers, events sharded across them)."""
    state: dict[str, Any] = {}

    def setup():
        if "model" not in state:
            fx = import_fixedpoint()
            try:
                import torch
                import hls4ml  # noqa: F401 - the graph scan converts the module with hls4ml
            except ImportError as exc:
                raise Skip(f"not installed: {exc.name}") from None
            from fixedpoint import _demo_data

            X, y = _demo_data.blobs(3_000, seed=0, spread=2.2)
            (W1, b1), (W2, b2) = _demo_data.train_mlp(X, y, seed=0)
            model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).eval()
            with torch.no_grad():
                for lin, (w, b) in zip((model[0], model[2]), ((W1, b1), (W2, b2))):
                    lin.weight.copy_(torch.tensor(w.T))
                    lin.bias.copy_(torch.tensor(b))
            Xc, yc = _demo_data.blobs(n, seed=5, spread=2.2)
            kw = dict(input_shape=(8,), tolerance=0.01, progress=False)
            state.update(fx=fx, model=model, X=Xc.astype(np.float32), y=yc, kw=kw)
            state["want"] = fx.scan(model, state["X"], yc, **kw)
        return state

    def check(res):
        want = state["want"]
        if res.config != want.config or res.steps != want.steps or res.trials != want.trials:
            raise WrongResult("the scan with client= chose other formats than the serial scan")

    def serial():
        s = setup()
        return Impl(run=lambda: s["fx"].scan(s["model"], s["X"], s["y"], **s["kw"]), check=check)

    def distributed_2():
        s = setup()
        _, client = _dask(2)
        return Impl(run=lambda: s["fx"].scan(s["model"], s["X"], s["y"], client=client, **s["kw"]), check=check)

    return Case(SUITE, "scan_client_graph", n, {"serial": serial, "dask_2workers": distributed_2}, baseline="serial",
                description="the whole fx.scan of the demo model as a torch module: serial vs client= (2 workers)")


def cases(quick: bool) -> list[Case]:
    n_calib = N_CALIB_QUICK if quick else N_CALIB
    return [*_emulate_cases(N_EVENTS_QUICK if quick else N_EVENTS), _scan_case(n_calib), _scan_client_case(n_calib),
            _scan_client_graph_case(n_calib)]


def goals(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not records:
        return []
    t_low = min(r["threads"] for r in records)
    by = {(r["case"], r["peer"], r["threads"]): r for r in records}

    def med(case, peer):
        rec = by.get((case, peer, t_low))
        return rec["median_s"] if rec and rec["status"] == "ok" else None

    base, one, two = med("emulate_jet", "in_process"), med("emulate_jet", "dask_1worker"), med("emulate_jet",
                                                                                               "dask_2workers")
    out = []
    speedup = one / two if one and two else None
    out.append({"suite": SUITE, "case": "emulate_jet", "threads": t_low, "goal": f"1 -> 2 workers >= {SPEEDUP_GOAL:g}x",
                "value": "-" if speedup is None else f"{speedup:.3g}x",
                "met": None if speedup is None else speedup >= SPEEDUP_GOAL})
    over = one / base - 1 if one and base else None
    out.append({"suite": SUITE, "case": "emulate_jet", "threads": t_low,
                "goal": f"1 worker <= {OVERHEAD_GOAL:.0%} over in-process",
                "value": "-" if over is None else f"{over:+.1%}", "met": None if over is None else over <= OVERHEAD_GOAL})
    ser, dist = med("scan_candidates", "serial"), med("scan_candidates", "dask_2workers")
    ratio = ser / dist if ser and dist else None
    out.append({"suite": SUITE, "case": "scan_candidates", "threads": t_low, "goal": "2 workers faster than serial",
                "value": "-" if ratio is None else f"{ratio:.3g}x", "met": None if ratio is None else ratio > 1})
    for case in ("scan_client", "scan_client_graph"):
        ser, dist = med(case, "serial"), med(case, "dask_2workers")
        ratio = ser / dist if ser and dist else None
        out.append({"suite": SUITE, "case": case, "threads": t_low, "goal": "fx.scan(client=) on 2 workers "
                    "faster than serial", "value": "-" if ratio is None else f"{ratio:.3g}x",
                    "met": None if ratio is None else ratio > 1})
    return out
