"""A Dense layer whose saturating accumulator is wider than 64 bits, against hls4ml's compiled
C-simulation: the partial sums leave the accumulator's range, so the engine runs the sequential
multi-limb accumulation (fixedpoint.nn.dense.dense_accum); every output bit must equal predict's."""

from __future__ import annotations

import numpy as np

from _hls4ml import check, convert, inputs, nontrivial, torch


def test_dense_with_a_wide_saturating_accumulator(tmp_path):
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4))
    with torch.no_grad():
        model[0].weight.mul_(40.0)  # products up to ~1000: the 6-term partial sums pass the accumulator's +-512
    layers = {"_0": {"Precision": {"weight": "fixed<16,8>", "bias": "fixed<16,8>",
                                   "accum": "fixed<80,10,RND,SAT>", "result": "fixed<24,12,RND,SAT>"}}}
    hm = convert(model, (6,), tmp_path / "prj", layers=layers, default="fixed<16,6>")
    x = inputs((6,), n=400, scale=8.0)
    out = check(hm, x)
    nontrivial(out)
    want = np.asarray(hm.predict(x))
    # saturated sums reach the output: the accumulator's limits (+-512, the upper one rounded up
    # from 512 - 2**-70 into the result's 12 fraction bits)
    assert np.isin(want, [512.0, -512.0]).any()
