"""The main job end to end on embedded defaults: networks → IRIs → LPIPS → survey → simulated
participants over HTTP → agreement report, with other networks' recognition of the IRIs."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import torch
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from tqdm import tqdm

from analysis import services as analysis_services
from inversion import services as inversion_services
from inversion.config import PRECISIONS, InversionConfig
from inversion.models import ModelSpec
from inversion.selectors import recognition_sentence
from metamer.errors import MetamerError
from science import images as imageio
from surveys import bots
from surveys import services as survey_services
from surveys.models import Study

SHARED_CIFAR = Path(settings.BASE_DIR).parent / "shared" / "data" / "cifar10-test.tar"
NETWORK = "efficientnet-lite0-imagenet"
"""No LPIPS variant is built on EfficientNet-Lite0, so no simulated judge agrees with it by
construction (an AlexNet or VGG16 network would be judged by its own features)."""
LAYERS = {"block 1 (early)": "blocks.1.1.add", "penultimate (late)": "global_pool.flatten"}
"""EfficientNet-Lite0 nodes: the end of the second block (stride 4, 24 channels) and the
penultimate layer (the 1,280 features the classifier reads)."""
DEMO_STEPS = 500
DEMO_THRESHOLD = 0.25
"""A demo on two CPU cores runs 500 steps; both layers get within 0.25 relative distance of
their targets there (a study should run the defaults, 800+ steps and 0.05)."""


def _progress(**kwargs) -> tqdm:
    """A progress bar; in a log (not a terminal) it writes a line every 30 s, not thousands."""
    interactive = sys.stderr.isatty()
    return tqdm(mininterval=0.1 if interactive else 30, dynamic_ncols=interactive, **kwargs)


class Command(BaseCommand):
    help = "Run Metamer end to end on embedded defaults and write an agreement report."

    def add_arguments(self, parser):
        parser.add_argument(
            "--images",
            type=Path,
            help="A folder, .zip or .tar of target images (default: CIFAR-10 "
            "test images from ../shared when present, else photographs matplotlib ships).",
        )
        parser.add_argument("--n-images", type=int, default=8)
        parser.add_argument("--n-noise", type=int, default=4)
        parser.add_argument("--size", type=int, default=112, help="Image side in pixels.")
        parser.add_argument("--steps", type=int, default=DEMO_STEPS)
        parser.add_argument("--workers", type=int, default=3, help="Simulated LPIPS participants.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--precision",
            choices=PRECISIONS,
            # Measured on a 2-core CPU with AMX-BF16: the demo takes 2 min 33 s in fp32 and
            # 2 min 59 s with bf16 autocast (EfficientNet's depthwise convolutions gain nothing).
            default="fp32",
            help="Optimisation precision (auto: bf16 where the hardware computes it natively).",
        )
        parser.add_argument(
            "--threshold", type=float, default=DEMO_THRESHOLD, help="Convergence: the largest rep distance kept."
        )

    def handle(self, *args, **opt):
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        try:
            report = self._run(stamp, opt)
        except MetamerError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS("\n" + report.summary["verdict"]))
        for job in report.summary["recognition"]:
            self.stdout.write(f"Recognised by other networks, IRIs of {job['condition']}:")
            for row in job["rows"]:
                self.stdout.write(f"  {recognition_sentence(row)}")
        self.stdout.write(f"Report: {Path(report.html.path).resolve()}")
        self.stdout.write(f"Judgements (CSV): {Path(report.csv.path).resolve()}")
        self.stdout.write(
            f"Admin: run `make serve`, open http://127.0.0.1:8000/admin/ and log in as demo / {self._admin_password()}"
        )

    def _run(self, stamp: str, opt: dict):
        size = opt["size"]
        stages = _progress(total=7, desc="Metamer demo", unit="stage", position=0)

        stages.set_postfix_str("registering EfficientNet-Lite0 (ImageNet) at two layers")
        specs = {depth: self._spec(depth, layer, size, stamp) for depth, layer in LAYERS.items()}
        images = opt["images"] or (SHARED_CIFAR if SHARED_CIFAR.exists() else None)
        if images is not None:
            targets = inversion_services.target_set_import(
                name=f"demo-images-{stamp}", path=images, image_size=size, sample=opt["n_images"], seed=opt["seed"]
            )
        else:
            targets = inversion_services.target_set_create_from_images(
                name=f"demo-images-{stamp}",
                images=imageio.sample_photographs(opt["n_images"]),
                image_size=size,
                source="matplotlib sample_data",
            )
        noise = inversion_services.target_set_create_noise(
            name=f"demo-noise-{stamp}", n=opt["n_noise"], law="normal-0-1", image_size=size, seed=opt["seed"]
        )
        stages.update()

        stages.set_postfix_str("generating IRIs (regularizer-free)")
        config = InversionConfig(
            steps=opt["steps"], seed=opt["seed"], convergence_threshold=opt["threshold"], precision=opt["precision"]
        )
        jobs = []
        for depth, spec in specs.items():
            for target_set in (targets, noise):
                job = inversion_services.inversion_job_create(
                    model_spec=spec, target_set=target_set, config=config, enqueue=False
                )
                with _progress(
                    total=1, desc=f"  IRIs {depth} × {target_set.kind}", unit="step·img", position=1, leave=False
                ) as bar:

                    def progress(done: int, total: int, bar=bar) -> None:
                        bar.total = total
                        bar.update(done - bar.n)

                    jobs.append(inversion_services.inversion_job_run(job_id=job.pk, on_progress=progress))
        stages.update()

        stages.set_postfix_str("scoring IRIs with LPIPS 2AFC (4 variants)")
        for job in jobs:
            inversion_services.lpips_judgements_compute(job=job)
        stages.update()

        stages.set_postfix_str("reading the IRIs with every classifier (recognition by other networks)")
        for job in jobs:
            inversion_services.job_recognition_compute(job_id=job.pk)
        stages.update()

        stages.set_postfix_str("assembling a 2AFC survey with attention checks")
        study = Study.objects.create(
            name=f"Demo study {stamp}",
            description="EfficientNet-Lite0 (ImageNet) early vs late layer, photographs and noise targets, "
            "answered by simulated participants (LPIPS variants and one careless bot); made by `make demo`.",
        )
        survey = survey_services.survey_assemble(
            study=study,
            name="2AFC",
            jobs=jobs,
            n_trials=None,
            seed=opt["seed"],
            include_unconverged=True,
            workers_per_survey=opt["workers"] + 1,
        )
        survey_services.survey_open(survey=survey)
        stages.update()

        stages.set_postfix_str("simulated participants answering over HTTP")
        deciders = [
            (f"lpips-{v}", bots.lpips_decider(v, settings.METAMER_CACHE_DIR))
            for v in ("alex-lin", "vgg-lin", "alex", "vgg")
        ][: opt["workers"]]
        deciders.append(("careless-bot", bots.adversarial_decider()))
        with bots.serve(get_wsgi_application()) as base_url:
            for name, decide in _progress(iterable=deciders, desc="  participants", position=1, leave=False):
                bots.run_bot(base_url, str(survey.uuid), name, decide)
        stages.update()

        stages.set_postfix_str("writing the agreement report")
        report = analysis_services.report_build(study=study)
        stages.update()
        stages.close()
        return report

    def _spec(self, depth: str, layer: str, size: int, stamp: str) -> ModelSpec:
        """The demo's spec for a layer, reused from an earlier demo when it is the same network,
        layer and size, so that conditions keep short, readable names."""
        name = f"EfficientNet-Lite0 {depth}"
        existing = ModelSpec.objects.filter(name=name).first()
        if existing and (existing.architecture, existing.layer, existing.input_size) == (NETWORK, layer, size):
            return existing
        if existing:
            name = f"{name} {size}px {stamp}"
        return inversion_services.model_spec_register(name=name, architecture=NETWORK, layer=layer, input_size=size)

    def _admin_password(self) -> str:
        user, _ = get_user_model().objects.get_or_create(
            username="demo", defaults={"is_staff": True, "is_superuser": True}
        )
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save()
        return password
