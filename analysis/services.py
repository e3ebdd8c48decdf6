"""Writes for analysis: LPIPS judgements of IRIs and study reports."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone
from matplotlib.figure import Figure
from PIL import Image

from analysis.models import LpipsJudgement, Report, TrialLpipsChoice
from analysis.perceptual import VARIANTS, load_lpips, lpips_pairs
from analysis.selectors import condition_label, judgements, study_jobs, study_results
from inversion.images import to_tensor
from inversion.models import IRI, InversionJob
from metamer.errors import MetamerError
from surveys.models import Study, Survey


def _load(stimulus) -> torch.Tensor:
    with Image.open(stimulus.image) as img:
        return to_tensor(img)


def lpips_judgements_compute(
    *, job: InversionJob, variants: tuple[str, ...] = tuple(VARIANTS), on_progress: Callable[[int], None] | None = None
) -> int:
    """LPIPS 2AFC for every IRI of a job and each variant: ``d(xr, xt)`` and ``d(xr, x0)``
    on images in [0, 1] mapped to [-1, 1]. Returns the number of judgements stored."""
    iris = list(IRI.objects.filter(job=job).select_related("stimulus", "seed", "target__stimulus").order_by("pk"))
    if not iris:
        raise MetamerError(f"job {job.pk} has no IRIs to judge", field="job")
    xr = torch.stack([_load(i.stimulus) for i in iris]) * 2 - 1
    xt = torch.stack([_load(i.target.stimulus) for i in iris]) * 2 - 1
    x0 = torch.stack([_load(i.seed) for i in iris]) * 2 - 1
    stored = 0
    for variant in variants:
        model = load_lpips(variant)
        with torch.no_grad():
            d_target = model(xr, xt).flatten().tolist()
            d_seed = model(xr, x0).flatten().tolist()
        LpipsJudgement.objects.bulk_create(
            [
                LpipsJudgement(iri=iri, variant=variant, d_target=dt, d_seed=ds)
                for iri, dt, ds in zip(iris, d_target, d_seed, strict=True)
            ],
            update_conflicts=True,
            unique_fields=["iri", "variant"],
            update_fields=["d_target", "d_seed"],
        )
        stored += len(iris)
        if on_progress is not None:
            on_progress(1)
    return stored


PAIRS_PER_PASS = 16
"""Image pairs judged per LPIPS pass: bounds memory (each image's features are held once)."""


def trial_lpips_choices_compute(*, survey: Survey, variants: tuple[str, ...] = tuple(VARIANTS)) -> int:
    """Each LPIPS variant's answer on every trial of a survey, with its margin, stored beside
    the people's answers. Returns the number of choices stored.

    A distance already stored as an IRI's LPIPS judgement (``d(xr, xt)``, ``d(xr, x0)``) is
    reused; an image against itself (an attention check) is 0; the rest are computed with each
    image's backbone features computed once per pass."""
    layout = []  # (trial, probe stimuli, reference stimuli): each probe is judged against every reference
    for trial in survey.trials.prefetch_related("slots__stimulus").order_by("position"):
        slots = sorted(trial.slots.all(), key=lambda s: s.index)
        probes = [s.stimulus for s in slots if s.role in ("query", "row")]
        references = [s.stimulus for s in slots if s.role in ("option", "column")]
        layout.append((trial, probes, references))
    stimuli = {s.pk: s for _, probes, references in layout for s in probes + references}
    images: dict[int, torch.Tensor] = {}

    def image(pk: int) -> torch.Tensor:
        if pk not in images:
            images[pk] = _load(stimuli[pk]) * 2 - 1
        return images[pk]

    known = _stored_distances([t.iri_id for t, _, _ in layout if t.iri_id is not None], variants)
    judged = {(p.pk, r.pk) for _, probes, refs in layout for p in probes for r in refs if p.pk != r.pk}
    stored = 0
    for variant in variants:
        distance = dict(known.get(variant, {}))
        needed = sorted(judged - set(distance))
        model = load_lpips(variant)
        for start in range(0, len(needed), PAIRS_PER_PASS):
            part = needed[start : start + PAIRS_PER_PASS]
            ids = sorted({pk for pair in part for pk in pair})
            index = {pk: n for n, pk in enumerate(ids)}
            batch = torch.stack([image(pk) for pk in ids])
            values = lpips_pairs(model, batch, [(index[a], index[b]) for a, b in part])
            distance.update(zip(part, values.tolist(), strict=True))
        choices = []
        for trial, probes, references in layout:
            d = torch.tensor(
                [[0.0 if p.pk == r.pk else distance[(p.pk, r.pk)] for r in references] for p in probes],
                dtype=torch.float64,
            )
            order = d.argsort(dim=1, stable=True)
            chosen = order[:, 0].tolist()
            margin = (d.gather(1, order[:, 1:2]) - d.gather(1, order[:, :1])).flatten().tolist()
            two_afc = trial.iri_id is not None or isinstance(trial.correct, int)
            choices.append(
                TrialLpipsChoice(
                    trial=trial,
                    variant=variant,
                    choice=chosen[0] if two_afc else chosen,
                    margin=margin[0] if two_afc else margin,
                    distances=d.tolist(),
                )
            )
        TrialLpipsChoice.objects.bulk_create(
            choices,
            update_conflicts=True,
            unique_fields=["trial", "variant"],
            update_fields=["choice", "margin", "distances"],
        )
        stored += len(choices)
    return stored


def _stored_distances(iri_ids: list[int], variants: tuple[str, ...]) -> dict[str, dict[tuple[int, int], float]]:
    """Variant → (IRI stimulus, target or seed stimulus) → the distance stored in the IRIs' judgements."""
    known: dict[str, dict[tuple[int, int], float]] = {}
    rows = LpipsJudgement.objects.filter(iri_id__in=iri_ids, variant__in=variants).values_list(
        "variant", "iri__stimulus_id", "iri__target__stimulus_id", "iri__seed_id", "d_target", "d_seed"
    )
    for variant, iri, target, seed, d_target, d_seed in rows:
        known.setdefault(variant, {}).update({(iri, target): d_target, (iri, seed): d_seed})
    return known


def _figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _bar_plot(rows: list[dict]) -> str:
    fig = Figure(figsize=(2.2 + 1.8 * len(rows), 3.4))
    ax = fig.subplots()
    xs = np.arange(len(rows))
    for offset, key, label in ((-0.2, "human", "People"), (0.2, "lpips", "LPIPS (4 variants)")):
        means = np.array([r[f"{key}_mean"] for r in rows])
        errors = np.array([r[f"{key}_std"] for r in rows])
        ax.bar(xs + offset, means, width=0.4, yerr=errors, capsize=4, label=label)
    for x, r in zip(xs, rows, strict=True):
        ax.hlines(r["chance"], x - 0.45, x + 0.45, colors="grey", linestyles=":")
    ax.set_xticks(xs, [f"{r['condition']}\n{r['kind']}" for r in rows], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("alignment (dotted: chance)")
    ax.legend(fontsize=8, loc="upper right")
    return _figure_png(fig)


def _scatter_plot(rows: list[dict]) -> str:
    fig = Figure(figsize=(4.2, 4))
    ax = fig.subplots()
    for variant, marker in zip(VARIANTS, "osD^", strict=True):
        ax.scatter(
            [r["lpips_by_variant"][variant] for r in rows],
            [r["human_mean"] for r in rows],
            marker=marker,
            label=variant,
        )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("LPIPS alignment")
    ax.set_ylabel("people's alignment")
    ax.legend(fontsize=8)
    return _figure_png(fig)


def _example_grid(jobs: list[InversionJob], per_job: int = 4) -> str:
    fig = Figure(figsize=(1.2 * 3 * per_job, 1.4 * len(jobs)))
    axes = fig.subplots(len(jobs), 3 * per_job, squeeze=False)
    for row, job in zip(axes, jobs, strict=True):
        iris = list(IRI.objects.filter(job=job).select_related("stimulus", "seed", "target__stimulus")[:per_job])
        cells = [
            (s, t) for i in iris for s, t in ((i.target.stimulus, "target"), (i.seed, "seed"), (i.stimulus, "IRI"))
        ]
        for ax in row:
            ax.axis("off")
        for ax, (stimulus, title) in zip(row, cells, strict=False):
            ax.imshow(_load(stimulus).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_title(title, fontsize=7)
        row[0].text(-0.1, 0.5, condition_label(job), transform=row[0].transAxes, ha="right", va="center", fontsize=8)
    return _figure_png(fig)


def report_build(*, study: Study) -> Report:
    """The study's results as a self-contained HTML report (tables and plots), a tidy CSV of
    every judgement and a CSV of per-condition summaries."""
    jobs = study_jobs(study)
    if not jobs:
        raise MetamerError("the study has no surveys built from inversion jobs yet", field="study")
    frame = judgements(study)
    summary = study_results(study, frame=frame)
    summary["created_at"] = timezone.now().isoformat()
    rows = summary["conditions"]
    html = render_to_string(
        "analysis/report.html",
        {
            "study": study,
            "summary": summary,
            "variants": list(VARIANTS),
            "bars": _bar_plot(rows) if rows else None,
            "scatter": _scatter_plot(rows) if rows else None,
            "examples": _example_grid(jobs),
        },
    )
    frame = frame.copy()
    for column in [c for c in frame.columns if c.startswith("dist:")]:
        frame[column] = frame[column].map(json.dumps)
    per_condition = pd.DataFrame.from_records(
        [
            {
                **{k: v for k, v in r.items() if not isinstance(v, dict | tuple)},
                "human_ci_low": r["human_ci"][0],
                "human_ci_high": r["human_ci"][1],
                "lpips_ci_low": r["lpips_ci"][0],
                "lpips_ci_high": r["lpips_ci"][1],
                **{f"lpips:{v}": x for v, x in r["lpips_by_variant"].items()},
                **{f"agreement:{v}": x for v, x in r["agreement_by_variant"].items()},
            }
            for r in rows
        ]
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    report = Report(study=study, summary=json.loads(json.dumps(summary, default=str)))
    report.html.save(f"study-{study.pk}-{stamp}.html", ContentFile(html.encode()), save=False)
    report.csv.save(
        f"study-{study.pk}-{stamp}-judgements.csv", ContentFile(frame.to_csv(index=False).encode()), save=False
    )
    report.summary_csv.save(
        f"study-{study.pk}-{stamp}-summary.csv", ContentFile(per_condition.to_csv(index=False).encode()), save=False
    )
    report.save()
    return report
