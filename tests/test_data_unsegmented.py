"""The unsegmented token task: noiseless frames collapse back to the label string; bounds and validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dl_theory.data.unsegmented import token_templates, unsegmented_tokens
from dl_theory.models.sequence.ctc import collapse


def test_noiseless_frames_collapse_to_the_labels(key):
    templates = token_templates(key, 4, 6, norm=2.0)
    np.testing.assert_allclose(jnp.linalg.norm(templates, axis=1), 2.0, rtol=1e-6)
    data = unsegmented_tokens(jax.random.fold_in(key, 1), 200, templates, min_length=2, max_length=4,
                              durations=(1, 3), max_gap=2, noise=0.0)
    x, pads = np.asarray(data.x_BxTxD), np.asarray(data.paddings_BxT)
    assert x.shape == (200, 4 * 3 + 5 * 2, 6)
    dist = np.linalg.norm(x[:, :, None, :] - np.asarray(templates)[None, None], axis=-1)
    frame_token = np.where(np.linalg.norm(x, axis=-1) > 0, np.argmin(dist, axis=-1) + 1, 0)
    saw_repeat = False
    for b in range(200):
        real = pads[b] == 0
        assert np.all(real[:real.sum()]) and np.all(x[b, ~real] == 0)  # right padding, zero frames there
        label = np.asarray(data.labels_BxN[b])[np.asarray(data.label_paddings_BxN[b]) == 0].tolist()
        assert 2 <= len(label) <= 4 and all(1 <= c <= 4 for c in label)
        assert collapse(frame_token[b, real]) == label  # equal neighbours are split by a silent frame
        saw_repeat |= any(a == c for a, c in zip(label, label[1:], strict=False))
        runs = [len(r) for r in np.split(frame_token[b, real], np.flatnonzero(np.diff(frame_token[b, real])) + 1)
                if r[0] > 0]
        assert all(1 <= r <= 3 for r in runs)  # token durations
    assert saw_repeat


@pytest.mark.parametrize("kwargs,match", [({"n": 0}, "n"), ({"durations": (3, 2)}, "durations"),
                                          ({"max_gap": -1}, "max_gap"), ({"noise": -1.0}, "noise"),
                                          ({"min_length": 3, "max_length": 2}, "max_length")])
def test_validation(key, kwargs, match):
    args = {"n": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        unsegmented_tokens(key, templates_CxD=jnp.eye(3), **args)
