"""Writes for analysis: study reports."""

from __future__ import annotations

import base64
import io
import json
import textwrap
import unicodedata

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.utils import timezone
from matplotlib.figure import Figure

from analysis.codebook import AUDIT, report_codebook
from analysis.models import Report
from analysis.selectors import (
    condition_label,
    judgements,
    study_jobs,
    study_results,
    study_triplets,
    study_workers,
)
from inversion.models import IRI, InversionJob
from inversion.selectors import job_recognition, stimulus_tensor
from metamer.errors import MetamerError
from science.lpips_variants import VARIANTS
from surveys.selectors import study_audit


def figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _bar_plot(rows: list[dict], participants: str) -> str:
    fig = Figure(figsize=(2.2 + 1.8 * len(rows), 3.4))
    ax = fig.subplots()
    xs = np.arange(len(rows))
    for offset, key, label in ((-0.2, "human", participants.capitalize()), (0.2, "lpips", "LPIPS (non-circular)")):
        means = np.array([np.nan if r[f"{key}_mean"] is None else r[f"{key}_mean"] for r in rows], dtype=float)
        errors = np.array([np.nan if r[f"{key}_std"] is None else r[f"{key}_std"] for r in rows], dtype=float)
        # ± one standard deviation, cut at 0 and 1: an alignment is a share.
        whiskers = np.stack([np.minimum(errors, means), np.minimum(errors, 1 - means)])
        ax.bar(xs + offset, means, width=0.4, yerr=whiskers, capsize=4, label=label)
    for x, r in zip(xs, rows, strict=True):
        ax.hlines(r["chance"], x - 0.45, x + 0.45, colors="grey", linestyles=":")
    # Conditions have long names: wrapped, so neighbouring labels do not run into each other.
    labels = [textwrap.fill(f"{r['condition']} ({r['kind']})", 24) for r in rows]
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("alignment ± sd (dotted: guessing)")
    # Above the axes, where it covers no bar.
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.01), ncols=2, frameon=False)
    return figure_png(fig)


def _scatter_plot(rows: list[dict], participants: str) -> str:
    fig = Figure(figsize=(4.2, 4))
    ax = fig.subplots()
    for n, (variant, marker) in enumerate(zip(VARIANTS, "osD^", strict=True)):
        # Hollow markers of different shapes and sizes: points that coincide stay visible.
        ax.scatter(
            [r["lpips_by_variant"][variant] for r in rows],
            [r["human_mean"] for r in rows],
            marker=marker,
            s=80 - 15 * n,
            facecolors="none",
            edgecolors=f"C{n}",
            linewidths=1.5,
            label=variant,
        )
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("LPIPS alignment")
    ax.set_ylabel(f"alignment of {participants}")
    ax.legend(fontsize=8)
    return figure_png(fig)


def _times_plot(frame: pd.DataFrame) -> str:
    """Seconds per trial, trials under test against attention checks, per survey kind."""
    timed = frame[frame.response_ms.notna()].drop_duplicates(["worker", "trial"])
    kinds = sorted(timed.kind.unique())
    fig = Figure(figsize=(4.2 * len(kinds), 3))
    axes = fig.subplots(1, len(kinds), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        part = timed[timed.kind == kind]
        seconds = part.response_ms.astype(float) / 1000
        top = max(float(np.percentile(seconds, 99)), 1.0)
        bins = np.linspace(0, top, 25)
        for check, label, colour in ((False, "trials under test", "#1d4ed8"), (True, "attention checks", "#d97706")):
            values = seconds[part.attention_check == check].clip(upper=top)
            if len(values):
                ax.hist(values, bins=bins, alpha=0.6, label=label, color=colour)
        ax.set_title(kind)
        ax.set_xlabel("seconds per trial (longest 1% drawn at the right edge)")
        ax.set_ylabel("trials")
        ax.legend(frameon=False, fontsize=8)
    return figure_png(fig)


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
            ax.imshow(stimulus_tensor(stimulus).permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_title(title, fontsize=7)
        row[0].text(-0.1, 0.5, condition_label(job), transform=row[0].transAxes, ha="right", va="center", fontsize=8)
    return figure_png(fig)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(value: str) -> bool:
    # Spreadsheets skip leading spaces and read full-width signs (＝＋－＠) as their ASCII forms.
    start = unicodedata.normalize("NFKC", value).lstrip(" \u00a0\u2028\u2029\n")
    return value.startswith(FORMULA_STARTS) or start.startswith(FORMULA_STARTS) or value[:1] in "\u2028\u2029\n"


def spreadsheet_safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV whose text cells a spreadsheet will not run as formulas: a text cell that starts,
    after spaces and once full-width signs are read as their ASCII forms, with ``= + - @``, a
    tab or a carriage return (or starts with a line break) gets a leading apostrophe (OWASP's
    advice). Numbers are left alone (a negative number is not text)."""

    def neutralise(value):
        return f"'{value}" if isinstance(value, str) and value and _formula_like(value) else value

    safe = frame.copy()
    for column in safe.columns:
        safe[column] = safe[column].map(neutralise)
    return safe.to_csv(index=False).encode()


def _in_words(answers: str | None) -> str:
    """Exit answers (stored as JSON) as a reader reads them: "question: answer; …"."""
    if not answers:
        return ""
    return "; ".join(f"{question}: {answer}" for question, answer in json.loads(answers).items())


def report_fill(*, report_id: int) -> Report:
    """Write a BUILDING report's files from its study as it is now; it becomes READY, or FAILED
    with the reason. A report no longer building is left as it is (a redelivered task)."""
    report = Report.objects.select_related("study").get(pk=report_id)
    if report.status != Report.Status.BUILDING:
        return report
    try:
        _report_write(report)
    except Exception as exc:
        # What went wrong is the report's to say; the worker logs the rest.
        message = exc.message if isinstance(exc, MetamerError) else f"could not be built ({type(exc).__name__}: {exc})"
        Report.objects.filter(pk=report.pk).update(status=Report.Status.FAILED, message=message)
        if not isinstance(exc, MetamerError):
            raise
    report.refresh_from_db()
    return report


def _report_write(report: Report) -> None:
    """The study's results as a self-contained HTML report (tables and plots), a tidy CSV of
    every judgement, a CSV of per-condition summaries, every judgement as triplets, a codebook
    of every CSV column, and the summary as JSON."""
    study = report.study
    jobs = study_jobs(study)
    frame = judgements(study)
    summary = study_results(study, frame=frame)
    summary["created_at"] = timezone.now().isoformat()
    workers_table = study_workers(study, frame=frame)
    summary["workers_table"] = json.loads(workers_table.to_json(orient="records"))
    rows = summary["conditions"]
    # Measured by networks, not people: each classifier's reading of each job's IRIs (if read).
    summary["recognition"] = [
        {"condition": condition_label(job), "rows": found} for job in jobs if (found := job_recognition(job))
    ]
    html = render_to_string(
        "analysis/report.html",
        {
            "study": study,
            "summary": summary,
            "variants": list(VARIANTS),
            "bars": _bar_plot(rows, summary.get("participants", "people")) if rows else None,
            "scatter": _scatter_plot(rows, summary.get("participants", "people")) if rows else None,
            "examples": _example_grid(jobs),
            "recognition": summary["recognition"],
            "workers": [{**w, "exit_answers": _in_words(w.get("exit_answers"))} for w in summary["workers_table"]],
            "times": _times_plot(frame) if frame.response_ms.notna().any() else None,
        },
    )
    judgements_frame, frame = frame, frame.copy()
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
    report.summary = json.loads(json.dumps(summary, default=str))
    report.html.save(f"study-{study.pk}-{stamp}.html", ContentFile(html.encode()), save=False)
    report.csv.save(f"study-{study.pk}-{stamp}-judgements.csv", ContentFile(spreadsheet_safe_csv(frame)), save=False)
    report.summary_csv.save(
        f"study-{study.pk}-{stamp}-summary.csv", ContentFile(spreadsheet_safe_csv(per_condition)), save=False
    )
    triplets = study_triplets(study, frame=judgements_frame)
    report.triplets_csv.save(
        f"study-{study.pk}-{stamp}-triplets.csv", ContentFile(spreadsheet_safe_csv(triplets)), save=False
    )
    report.workers_csv.save(
        f"study-{study.pk}-{stamp}-workers.csv", ContentFile(spreadsheet_safe_csv(workers_table)), save=False
    )
    audit = pd.DataFrame.from_records(study_audit(study), columns=list(AUDIT))
    report.audit_csv.save(f"study-{study.pk}-{stamp}-audit.csv", ContentFile(spreadsheet_safe_csv(audit)), save=False)
    codebook = report_codebook(
        judgements=list(frame.columns),
        summary=list(per_condition.columns),
        triplets=list(triplets.columns),
        workers=list(workers_table.columns),
        audit=list(audit.columns),
    )
    report.codebook.save(
        f"study-{study.pk}-{stamp}-codebook.csv", ContentFile(codebook.to_csv(index=False).encode()), save=False
    )
    report.summary_json.save(
        f"study-{study.pk}-{stamp}-summary.json", ContentFile(json.dumps(report.summary, indent=2).encode()), save=False
    )
    report.status = Report.Status.READY
    report.save()
