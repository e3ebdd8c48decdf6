"""The study results on hand-made judgement tables, clustering included."""

import pandas as pd
import pytest

from analysis import results

VARIANTS = ["v"]


def _frame(rows):
    base = {"attention_check": False, "excluded": False, "condition": "A", "kind": "clustering"}
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["correct"] = frame.answer == frame.correct_answer
    return frame


def test_clustering_rows_give_two_triplets_each_and_lpips_agreement_uses_distances():
    # One clustering row, correct column 0; the worker says 0; LPIPS distances rank 0 < 2 < 1.
    frame = _frame(
        [
            {
                "worker": "w",
                "trial": 1,
                "row": 0,
                "answer": 0,
                "correct_answer": 0,
                "lpips:v": 0,
                "dist:v": [0.1, 0.9, 0.5],
            }
        ]
    )
    assert results.human_triplets(frame) == [(0, 0, 1, "w"), (0, 0, 2, "w")]
    assert results.triplet_agreement(frame, VARIANTS)["v"]["value"] == 1.0
    # The worker says 2 instead: LPIPS agrees on (row; 2, 1) but not on (row; 2, 0).
    frame.loc[0, "answer"] = 2
    assert results.triplet_agreement(frame, VARIANTS)["v"]["value"] == 0.5


def test_summary_scores_rows_and_knows_the_chance_level():
    rows = [
        {"worker": w, "trial": 1, "row": r, "answer": a, "correct_answer": c, "lpips:v": c, "dist:v": [0, 1, 2]}
        for w, answers in (("w1", [0, 1, 2]), ("w2", [0, 1, 1]))
        for r, (a, c) in enumerate(zip(answers, [0, 1, 2], strict=True))
    ]
    summary = results.summarise(_frame(rows), VARIANTS)[0]
    assert summary["chance"] == pytest.approx(1 / 3)
    assert summary["human_mean"] == pytest.approx((1 + 2 / 3) / 2)
    assert summary["lpips_mean"] == 1.0
    assert summary["n_items"] == 3


def test_noise_ceiling_and_kappa_among_workers():
    answers = {"w1": [0, 1, 0], "w2": [0, 1, 0], "w3": [0, 1, 1]}
    rows = [
        {
            "worker": w,
            "kind": "2afc",
            "trial": t,
            "row": -1,
            "answer": a,
            "correct_answer": 0,
            "lpips:v": 0,
            "dist:v": [0, 1],
        }
        for w, per_trial in answers.items()
        for t, a in enumerate(per_trial)
    ]
    frame = _frame(rows)
    ceiling = results.noise_ceiling(frame)
    # Trials 0 and 1: everyone agrees (6 triplets). Trial 2: w1's others split (w2: 0, w3: 1),
    # a tie, half; the same for w2; w3 (1) against two 0s, none.
    assert ceiling == {"value": pytest.approx(7 / 9), "n": 9}
    # By hand: mean item agreement 7/9, chance (5/9)² + (4/9)² = 41/81.
    assert results.kappa(frame)["2afc"] == pytest.approx((7 / 9 - 41 / 81) / (1 - 41 / 81))


def test_orderings_and_verdict():
    summary = [
        {"condition": c, "kind": "2afc", "human_mean": h, "lpips_mean": m, "lpips_by_variant": {"v": m}}
        for c, h, m in (("early", 0.9, 0.8), ("mid", 0.6, 0.5), ("late", 0.3, 0.4))
    ]
    ordering = results.orderings(summary, VARIANTS)
    assert ordering["2afc"]["v"] == {"rho": 1.0, "n": 3}
    text = results.verdict(summary, ordering)
    assert "people judge early best aligned (90%)" in text
    assert "Does LPIPS order these models as people do? Yes" in text
    summary[2]["lpips_by_variant"]["v"] = 0.95
    assert "? No" in results.verdict(summary, results.orderings(summary, VARIANTS))
    assert "simulated" not in text
    simulated = results.verdict(summary, ordering, participants="simulated participants")
    assert "checks the pipeline, not whether people see as LPIPS does" in simulated


def test_two_conditions_get_their_difference_with_an_interval_and_no_rank_verdict():
    rows = [
        {"worker": w, "trial": t, "row": -1, "kind": "2afc", "condition": c, "answer": a, "correct_answer": 1,
         "lpips:v": 1, "network": "resnet18"}
        for w in ("w1", "w2", "w3")
        for t, c, a in ((1, "early", 1), (2, "early", 1), (3, "late", 0), (4, "late", 1 if w == "w3" else 0))
    ]  # fmt: skip
    frame = _frame(rows)
    summary = results.summarise(frame, VARIANTS)
    text = results.verdict(
        summary, results.orderings(summary, VARIANTS), frame=frame, participants="simulated participants"
    )
    assert "simulated participants judge early best aligned (100%)" in text
    assert "The difference is +83%" in text and "Spearman" not in text


def test_lpips_built_on_the_judged_network_does_not_judge_it():
    assert results.circular_variants("alexnet-imagenet", ["alex-lin", "vgg-lin", "alex", "vgg"]) == ["alex-lin", "alex"]
    assert results.circular_variants("vgg16-imagenet", ["alex-lin", "vgg-lin"]) == ["vgg-lin"]
    assert results.circular_variants("resnet18", ["alex-lin", "vgg-lin"]) == []
    assert results.circular_variants("efficientnet-lite0-imagenet", ["alex-lin", "vgg-lin", "alex", "vgg"]) == []
    assert results.circular_variants("alexnet-imagenet", ["alex-randlin-0", "vgg-randlin-0"]) == ["alex-randlin-0"]
