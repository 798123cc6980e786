"""implicit-bias: a shrunk run reaches X⁺y from 0 and X⁺y + (I − X⁺X)w₀ from w₀."""

from experiments.generalization import implicit_bias as exp


def test_shrunk_run():
    result = exp.run(exp.Config(n=8, d=24, steps=3000, batch_size=4))
    failed = [c for c in result.claims if not c.passed]
    assert not failed, failed
    assert result.metrics["GD/zero"]["dist_min_norm"] < 1e-8
