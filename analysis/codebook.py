"""What every column of a study report's CSV files means: shipped with each report as its
codebook, so a researcher can hand the files on."""

from __future__ import annotations

import pandas as pd

from science.lpips_variants import VARIANTS

JUDGEMENTS = {
    "worker": "The participant's id (the recruiter's worker id, or the id typed on the landing page).",
    "survey": "The survey's name.",
    "kind": "2afc (is the IRI closer to its target or its seed?) or clustering (match rows to columns).",
    "trial": "The trial's id (the same in every file of this report).",
    "position": "The trial's place in the survey's base order, from 0 (each worker saw their own order).",
    "row": "Clustering: the row's index in the trial's own terms, from 0; 2AFC: -1 (no rows).",
    "condition": "Model spec / regularizer (and preset) / kind of target the IRIs come from.",
    "attention_check": "True for an attention check (a copy of the reference among the options).",
    "answer": "The answer in the trial's own terms: 2AFC, the option index (0 or 1); clustering, the column "
    "index (0-2) given to this row.",
    "correct_answer": "The answer that matches the IRI to its own target, in the same terms.",
    "correct": "answer == correct_answer.",
    "response_ms": "Milliseconds from the trial appearing to the answer (as the worker's browser measured).",
    "shown_position": "The trial's place in this worker's own order, from 1.",
    "shown_row": "Clustering: where the row was on screen, from 0; 2AFC: -1.",
    "target_side": "Where the correct answer was on screen: left/right (2AFC) or column A/B/C (clustering).",
    "answer_shown": "The answer as clicked on screen (display index), before mapping to the trial's terms.",
    "network": "The network's architecture (the model spec's).",
    "simulated": "True when the answer came from a simulated participant (a bot), not a person.",
    "excluded": "True for every answer of a worker who failed any attention check; they are left out of the results.",
    **{f"lpips:{v}": f"The {v} LPIPS variant's answer to the same trial, in the trial's own terms." for v in VARIANTS},
    **{
        f"dist:{v}": f"The {v} LPIPS distances from the reference (2AFC) or row (clustering) to each option or "
        "column, a JSON list in the trial's own order."
        for v in VARIANTS
    },
}

TRIPLETS = {
    "worker": JUDGEMENTS["worker"],
    "survey": JUDGEMENTS["survey"],
    "trial": JUDGEMENTS["trial"],
    "row": JUDGEMENTS["row"],
    "condition": JUDGEMENTS["condition"],
    "attention_check": JUDGEMENTS["attention_check"],
    "excluded": JUDGEMENTS["excluded"],
    "simulated": JUDGEMENTS["simulated"],
    "reference": "Stimulus id of the image judged against the others (2AFC: the IRI; clustering: the row).",
    "closer": "Stimulus id of the image the worker judged closer to the reference.",
    "farther": "Stimulus id of the other image (one triplet per image not chosen).",
    "reference_sha256": "SHA-256 of the reference image file, to find it again anywhere.",
    "closer_sha256": "SHA-256 of the closer image file.",
    "farther_sha256": "SHA-256 of the farther image file.",
}

WORKERS = {
    "worker": JUDGEMENTS["worker"],
    "survey": JUDGEMENTS["survey"],
    "status": "started, submitted, approved, rejected or expired (time ran out; never counted).",
    "started_at": "When the worker started (ISO 8601, UTC).",
    "submitted_at": "When their last answer submitted the assignment (empty if it was not).",
    "minutes": "submitted_at − started_at, in minutes.",
    "judgements": "Judgements under test counted from this worker (a clustering trial gives one per row).",
    "checks_passed": "Attention checks answered right.",
    "checks_asked": "Attention checks asked.",
    "alignment": "Share of this worker's judgements under test that matched the IRI to its own target.",
    "median_trial_s": "Median seconds from a trial appearing to its answer.",
    "excluded": "True when this worker's answers are left out of the results.",
    "why": "Why they are left out: failed attention checks, or the assignment was not submitted.",
    "simulated": JUDGEMENTS["simulated"],
    "exit_answers": "Their answers to the exit questions, as JSON (question or demographic → answer); empty when "
    "none were asked or they skipped them.",
}

AUDIT = {
    "when": "When the decision was recorded (ISO 8601, UTC).",
    "actor": "Who took it: a staff user's name, or metamer for a policy applied by the process itself.",
    "action": "approve, reject, flag, note, exclude (from the data), include (again), bonus, block, or record "
    "(the recruiter was found to have done it already).",
    "worker": JUDGEMENTS["worker"],
    "survey": JUDGEMENTS["survey"],
    "reason": "Why, as given when it was taken (a rejection's feedback, a bonus's reason).",
    "details": "The decision's particulars as JSON (a bonus's amount in cents, ...).",
}

SUMMARY_PATTERNS = {
    "condition": JUDGEMENTS["condition"],
    "kind": JUDGEMENTS["kind"],
    "chance": "The score of guessing: 0.5 (2AFC) or 1/3 (clustering).",
    "human_mean": "Mean alignment across workers (share of IRIs matched to their own target).",
    "human_std": "Standard deviation of that share across workers.",
    "human_ci_low": "Bootstrap 95% interval of human_mean over workers, lower end.",
    "human_ci_high": "Its upper end.",
    "n_workers": "Workers counted (submitted, not excluded).",
    "lpips_mean": "Mean alignment across the non-circular LPIPS variants.",
    "lpips_std": "Its standard deviation across those variants.",
    "lpips_ci_low": "Bootstrap 95% interval of lpips_mean over trials, lower end.",
    "lpips_ci_high": "Its upper end.",
    "lpips:<variant>": "That LPIPS variant's alignment.",
    "agreement:<variant>": "Share of trials on which the workers' majority and that LPIPS variant answer alike.",
}


def _describe(columns: list[str], meanings: dict[str, str]) -> list[str]:
    out = []
    for column in columns:
        pattern = column.split(":")[0] + ":<variant>" if ":" in column else column
        out.append(meanings.get(column) or meanings.get(pattern) or "")
    return out


def report_codebook(
    *, judgements: list[str], summary: list[str], triplets: list[str], workers: list[str], audit: list[str] = ()
) -> pd.DataFrame:
    """One row per column of each CSV: ``file``, ``column``, ``meaning``; plus a note on cells
    a spreadsheet would read as formulas."""
    rows = []
    for file, columns, meanings in (
        ("judgements", judgements, JUDGEMENTS),
        ("summary", summary, SUMMARY_PATTERNS),
        ("triplets", triplets, TRIPLETS),
        ("workers", workers, WORKERS),
        ("audit", list(audit), AUDIT),
    ):
        rows += [
            {"file": file, "column": c, "meaning": m or "See the report."}
            for c, m in zip(columns, _describe(columns, meanings), strict=True)
        ]
    rows.append(
        {
            "file": "all",
            "column": "(any text cell)",
            "meaning": "A text cell that would start with = + - @, a tab or a carriage return has an apostrophe "
            "put before it, so a spreadsheet shows it instead of running it as a formula (OWASP's advice).",
        }
    )
    return pd.DataFrame(rows, columns=["file", "column", "meaning"])
