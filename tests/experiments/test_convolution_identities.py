"""convolution-identities on a shrunk config: every identity, count and shape claim holds."""

import pytest

from dl_theory.experiment.config import ConfigError
from experiments.convolutions import convolution_identities


def test_convolution_identities_claims_hold():
    cfg = convolution_identities.Config(length=32, kernel_sizes=(1, 4), image=10, kernel_2d=(2, 3), shift=2,
                                        max_input=5, max_kernel=3, max_padding=1, max_stride=2, count_sizes=(6,),
                                        time_size=24, time_kernels=(3, 5, 9), time_batch=1, time_reps=2)
    result = convolution_identities.run(cfg)
    failed = [(c.id, c.measured) for c in result.claims if not c.passed]
    assert not failed, failed
    assert {"toeplitz-1d", "fft-linear", "kernel-gradient", "output-size", "param-count", "direct-madds",
            "separable-madds", "xla-flops"} <= {c.id for c in result.claims}
    assert len(result.metrics["direct_seconds"]) == 3


@pytest.mark.parametrize("overrides", [{"length": "4"}, {"kernel_sizes": "(0, 3)"}, {"kernel_2d": "(3,)"},
                                       {"max_stride": "0"}, {"time_kernels": "(3, 5)"}, {"seed": "-1"}])
def test_bad_config_values_raise(overrides):
    with pytest.raises(ConfigError, match=next(iter(overrides))):
        convolution_identities.EXPERIMENT.make_config(quick=True, overrides=overrides)
