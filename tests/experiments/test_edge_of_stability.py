"""edge-of-stability on a shrunk config: sharpness settles at 2/eta under full-batch GD."""

import numpy as np

from experiments.curvature import edge_of_stability as eos


def test_sharpness_settles_at_two_over_eta():
    cfg = eos.Config(etas=(0.35,), n_examples=128, n_steps=800, every=40)
    result = eos.run(cfg)
    failed = [c.id for c in result.claims if not c.passed]
    assert not failed, failed
    (run,) = result.metrics["runs"]
    assert run["initial_sharpness"] < run["two_over_eta"]
    np.testing.assert_allclose(run["tail_median_sharpness"], 2 / 0.35, rtol=0.1)
