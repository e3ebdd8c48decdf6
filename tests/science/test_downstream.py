"""What alignment predicts: few-shot probes and the paper's downstream analyses."""

import numpy as np
import pytest

from science.downstream import downstream_analysis, few_shot_probe


def _clusters(classes=4, per_class=60, dim=20, spread=1.5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(classes, dim))
    x = np.concatenate([c + rng.normal(size=(per_class, dim)) for c in centres])
    return x, np.repeat([f"class{c}" for c in range(classes)], per_class)


@pytest.mark.parametrize("head", ["linear", "mlp1", "mlp2"])
def test_few_shot_probes_learn_more_from_more_examples(head):
    x, y = _clusters()
    results = few_shot_probe(x, y, shots=(1, 20), seeds=4, head=head)
    assert [r.shots for r in results] == [1, 20]
    assert results[1].accuracy > results[0].accuracy
    assert results[1].accuracy > 0.8
    assert few_shot_probe(x, y, shots=(5,), seeds=2, head=head) == few_shot_probe(x, y, shots=(5,), seeds=2, head=head)


def test_the_paper_s_heads_are_one_linear_layer_and_one_hidden_relu_layer_after_dropout(monkeypatch):
    from torch import nn

    from science import downstream

    built = []
    real = nn.Sequential.__init__

    def spy(self, *layers):
        built.append([type(layer).__name__ for layer in layers])
        real(self, *layers)

    monkeypatch.setattr(nn.Sequential, "__init__", spy)
    x, y = _clusters(per_class=12)
    for head in ("mlp1", "mlp2"):
        downstream.few_shot_probe(x, y, shots=(1,), seeds=1, head=head)
    assert built == [["Dropout", "Linear"], ["Dropout", "Linear", "ReLU", "Linear"]]


def test_a_constant_feature_is_centred_not_blown_up():
    from science.downstream import _standardiser

    x = np.array([[1.0, 5.0, 3.0], [2.0, 5.0 + 1e-9, 3.0], [3.0, 5.0, 3.0]], dtype=np.float32)
    mean, std = _standardiser(x)
    scaled = (x - mean) / std
    assert np.abs(scaled[:, 1:]).max() < 1e-6  # before: rounding noise / 1e-6 reached millions
    assert np.allclose(scaled[:, 0], [-1.2247449, 0, 1.2247449])


def test_probes_refuse_a_set_too_small_for_the_shots_asked():
    x, y = _clusters(per_class=10)
    with pytest.raises(ValueError, match="20-shot probes need more than 20 examples of every class"):
        few_shot_probe(x, y, shots=(1, 20))


def test_downstream_analysis_finds_a_u_shape_and_controls_for_top1_as_pingouin_does():
    pingouin = pytest.importorskip("pingouin")
    import pandas as pd

    rng = np.random.default_rng(0)
    alignment = rng.uniform(0.1, 0.6, 30)
    top1 = rng.uniform(60, 85, 30)
    u_shaped = 2 * (alignment - alignment.mean()) ** 2 / alignment.var() + 0.02 * top1 + rng.normal(scale=0.1, size=30)
    out = downstream_analysis(alignment, u_shaped, top1)
    assert out["z2_pearson"] > 0.9 and abs(out["pearson"]) < 0.5
    assert out["quadratic"][0] > 0
    assert out["high"] > out["mid"] and out["low"] > out["mid"] and out["k"] == 5
    frame = pd.DataFrame({"a": alignment, "s": u_shaped, "t": top1})
    theirs = pingouin.partial_corr(data=frame, x="a", y="s", covar="t")
    assert out["partial_pearson"] == pytest.approx(float(theirs["r"].iloc[0]), abs=1e-9)
    assert out["partial_p_value"] == pytest.approx(
        float(theirs["p_val"].iloc[0] if "p_val" in theirs else theirs["p-val"].iloc[0]), rel=1e-6
    )


def test_too_few_models_or_models_in_two_clusters_get_words_not_a_curve():
    rng = np.random.default_rng(1)
    # Trained and untrained: two clusters, and a "relation" that is only their difference.
    clusters = np.r_[rng.uniform(0.02, 0.12, 6), rng.uniform(0.26, 0.35, 6)]
    score = (clusters > 0.2) * 0.3 + rng.normal(scale=0.02, size=12)
    out = downstream_analysis(clusters, score)
    assert out["pearson"] > 0.9 and out["quadratic"] is None and out["gap"][0] < 0.13 < 0.25 < out["gap"][1]
    assert "separate clusters" in out["warnings"][0]
    low, high = out["pearson_interval"]
    assert low < out["pearson"] < high
    few = downstream_analysis([0.1, 0.2, 0.25, 0.3, 0.33, 0.4], [1, 2, 2, 3, 3, 4])
    assert few["quadratic"] is None and "only 6 models" in few["warnings"][0]
    spread = downstream_analysis(np.linspace(0.1, 0.5, 12), np.linspace(0, 1, 12) ** 2)
    assert spread["warnings"] == [] and spread["quadratic"] is not None
