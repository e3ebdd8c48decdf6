"""Building a 2AFC survey: how long the simulated participants' LPIPS choices take.

Makes a finished inversion job of 224×224 IRIs, each with its own seed (random images: LPIPS's
cost does not depend on what they show) in a fresh SQLite database, then times
``survey_assemble`` (which builds the survey: every LPIPS variant's choice on every trial) for
9 and 200 trials with no distance known beforehand, the four LPIPS variants loaded once
beforehand (a worker process keeps them), then the 9-trial survey once more (its distances now
known, as for any later survey of the same images). Prints the device.

    python benchmarks/assembly.py            # 9 and 200 trials
    python benchmarks/assembly.py --quick    # 9 trials only

Goals (issue 27): 9 trials under 3 s, 200 under 30 s. The last line is the headline:
``9 trials S s, 200 trials S s``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    var = tempfile.mkdtemp(prefix="metamer-bench-")
    os.environ.update(METAMER_VAR_DIR=var, DJANGO_SETTINGS_MODULE="metamer.settings")
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    import torch
    from django.conf import settings

    from inversion.models import IRI, InversionJob, LpipsDistance, ModelSpec, Stimulus, Target, TargetSet
    from inversion.services import stimulus_create
    from science.lpips_variants import VARIANTS
    from science.perceptual import load_lpips
    from surveys.models import Study
    from surveys.services import survey_assemble

    generator = torch.Generator().manual_seed(0)

    def image(role: str) -> Stimulus:
        return stimulus_create(role=role, image=torch.rand(3, 224, 224, generator=generator))

    spec = ModelSpec.objects.create(name="bench", architecture="alexnet-imagenet", layer="3", input_size=224)
    targets = TargetSet.objects.create(name="bench", image_size=224)
    job = InversionJob.objects.create(
        model_spec=spec, target_set=targets, config={}, total=200, status=InversionJob.Status.DONE
    )
    for index in range(200):
        target = Target.objects.create(target_set=targets, index=index, stimulus=image(Stimulus.Role.TARGET))
        IRI.objects.create(
            job=job,
            target=target,
            seed=image(Stimulus.Role.SEED),
            stimulus=image(Stimulus.Role.IRI),
            rep_distance=0.01,
            converged=True,
            steps=1,
            best_step=1,
            wall_time=0.0,
            device="cpu",
        )
    start = time.perf_counter()
    for variant in VARIANTS:
        load_lpips(variant, cache_dir=settings.METAMER_CACHE_DIR)
    print(
        f"device cpu, {torch.get_num_threads()} threads; four LPIPS variants loaded in {time.perf_counter() - start:.1f} s"
    )
    study = Study.objects.create(name="bench")
    timings = {}
    for n in (9,) if "--quick" in sys.argv else (9, 200):
        LpipsDistance.objects.all().delete()
        start = time.perf_counter()
        survey = survey_assemble(study=study, name=f"{n} trials", jobs=[job], n_trials=n, n_attention_checks=0, seed=1)
        timings[n] = time.perf_counter() - start
        print(
            f"{n} trials at 224 px: {timings[n]:.2f} s ({4 * 2 * n} LPIPS distances, "
            f"{survey.build_total // 2} images through AlexNet and VGG16)"
        )
    start = time.perf_counter()
    survey_assemble(study=study, name="9 again", jobs=[job], n_trials=9, n_attention_checks=0, seed=1)
    print(f"the same 9 trials again (distances known): {time.perf_counter() - start:.2f} s")
    print(", ".join(f"{n} trials {seconds:.2f} s" for n, seconds in timings.items()))


if __name__ == "__main__":
    main()
