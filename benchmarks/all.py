"""Every benchmark, one after another in this process's environment, with their headlines in
one table (``make bench``). Each runs as its own ``python benchmarks/<name>.py`` (``--quick``
unless ``--full``); its last line is its headline. Run with nothing else busy: load halves the
figures.

    python benchmarks/all.py           # the quick forms, about 15 minutes on a 2-core CPU
    python benchmarks/all.py --full    # the full forms

The last line is the headline: ``N benchmarks, M failed``.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ("startup", [], "manage.py check time and a gunicorn worker's memory"),
    ("researcher", [], "the researcher's path in Chromium, page by page"),
    ("assembly", ["--quick"], "a 2AFC survey's simulated participants' choices (224 px)"),
    ("inversion", ["--quick"], "the engine against the reference-style loop"),
    ("alignment", ["--quick"], "triplet alignment, vectorised against a loop"),
    ("alignment", ["--embedding"], "the embedding pass per built-in, share of the measured peak"),
    ("triplets", ["--quick"], "choosing the next adaptive triplet"),
    ("answers", ["--quick"], "the answer endpoint under concurrent workers"),
]


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu (torch not installed)"
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def main() -> None:
    full = "--full" in sys.argv
    rows, failed = [], 0
    for name, flags, what in RUNS:
        flags = [f for f in flags if not (full and f == "--quick")]
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), *flags], cwd=HERE.parent, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        if done.returncode or not lines:
            failed += 1
            headline = f"FAILED (exit {done.returncode}): {(done.stderr.strip().splitlines() or ['no output'])[-1]}"
        else:
            headline = lines[-1]
        rows.append((f"{name} {' '.join(flags)}".strip(), what, headline, seconds))
        sys.stdout.write(f"{rows[-1][0]}: {headline} ({seconds:.0f} s)\n")
        sys.stdout.flush()
    sys.stdout.write(f"\ndevice: {_device()}\n\n| benchmark | measures | headline | took |\n|---|---|---|---|\n")
    for command, what, headline, seconds in rows:
        sys.stdout.write(f"| `{command}` | {what} | {headline} | {seconds:.0f} s |\n")
    sys.stdout.write(f"{len(rows)} benchmarks, {failed} failed\n")


if __name__ == "__main__":
    main()
