"""Many models against people's similarity judgements, from files or stored data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from analysis import services
from analysis.config import DEFAULT_MODELS, AlignmentConfig
from analysis.models import AlignmentRun
from inversion.models import TargetSet
from metamer.errors import MetamerError
from science.comparison import ceiling_words
from science.downstream import HEADS, check_probe_labels
from science.names import COMPARISONS
from science.zoo import METRICS
from surveys.models import SimilarityData


class Command(BaseCommand):
    help = (
        "Align many models with human similarity judgements: --images and --human (files), or --data (stored), "
        "writing alignment.csv, rdms/<model>.npy and report.html to --out."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--images", type=Path, help="folder or archive of the images (or the kriegeskorte92 folder)"
        )
        parser.add_argument(
            "--human",
            type=Path,
            help="people's judgements over those images, in their order: matrices (.csv/.npy/.mat, one per person or "
            "averaged) or a triplet CSV (i,j,k,choice), or the kriegeskorte92 folder",
        )
        parser.add_argument("--variable", default="", help="the .mat variable holding the matrices, when several do")
        parser.add_argument("--similarities", action="store_true", help="the matrices are similarities, not distances")
        parser.add_argument("--data", help="stored human similarity data (by name), instead of --images/--human")
        parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="default: every built-in")
        parser.add_argument(
            "--layer",
            default="",
            help="one layer for all models (default: each one's own; the classifier head's input where there is one, "
            "else its last layer)",
        )
        parser.add_argument("--metric", choices=METRICS, default="cosine")
        parser.add_argument(
            "--comparison",
            choices=COMPARISONS,
            default="group",
            help="compare each model with the group-mean matrix or with each person's (averaged); each has its own "
            "ceilings",
        )
        parser.add_argument("--bootstrap", type=int, default=1000, help="image resamples for the intervals")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument("--probe-images", type=Path, help="a labelled image set (class folders) for n-shot probes")
        parser.add_argument("--probe-set", help="a stored labelled image set (by name), with --data")
        parser.add_argument("--probe-shots", type=int, nargs="+", default=[], help="e.g. 1 5 10 20 40 80")
        parser.add_argument(
            "--probe-per-class", type=int, default=100, help="images drawn per class from --probe-images"
        )
        parser.add_argument("--probe-seeds", type=int, default=5)
        parser.add_argument("--probe-head", choices=HEADS, default="linear")
        parser.add_argument(
            "--scores", type=Path, help="CSV of per-model scores: model, top1 (the covariate), other columns"
        )
        parser.add_argument("--out", type=Path, help="folder for alignment.csv, rdms/ and report.html")

    def handle(self, *args, **o):
        try:
            config = AlignmentConfig(
                models=o["models"],
                layer=o["layer"],
                metric=o["metric"],
                comparison=o["comparison"],
                bootstrap=o["bootstrap"],
                seed=o["seed"],
                batch_size=o["batch_size"],
                probe_shots=o["probe_shots"],
                probe_seeds=o["probe_seeds"],
                probe_head=o["probe_head"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            if o["data"]:
                return self._stored(config, o)
            return self._files(config, o)
        except MetamerError as exc:
            raise CommandError(exc.message) from None

    def _files(self, config: AlignmentConfig, o: dict) -> None:
        if not o["images"] or not o["human"] or not o["out"]:
            raise CommandError("give --images, --human and --out (or --data NAME for stored data)")
        if config.probe_shots and not o["probe_images"]:
            raise CommandError("--probe-shots needs --probe-images (a labelled image set)")
        # Everything is read and checked before the first model is embedded.
        models = services.zoo_models_check(config=config)
        images = services.images_read(path=o["images"])
        human = services.human_read(
            path=o["human"], n_items=len(images.labels), variable=o["variable"], similarities=o["similarities"]
        )
        probe = None
        if o["probe_images"]:
            probe = services.images_read(path=o["probe_images"], per_class=o["probe_per_class"], seed=config.seed)
            try:
                check_probe_labels(probe.labels, config.probe_shots or [1])
            except ValueError as exc:
                raise CommandError(f"{o['probe_images']}: {exc}") from None
        scores = services.scores_read(path=o["scores"]) if o["scores"] else None
        self.stdout.write(
            f"{len(images.labels)} images, {len(models)} models; human data: {o['human'].name}"
            + (f"; probes on {len(probe.labels)} labelled images" if probe else "")
        )
        features, probe_features = {}, {}
        for model in models:
            with tqdm(total=len(images.labels), desc=model.name, unit="img", leave=False) as bar:
                features[model.name] = services.embedding_compute(
                    model=model,
                    images=images,
                    batch_size=config.batch_size,
                    on_progress=lambda done, total, bar=bar: bar.update(done - bar.n),
                )
            if probe is not None:
                probe_features[model.name] = services.embedding_compute(
                    model=model, images=probe, batch_size=config.batch_size
                )
        benchmark = services.alignment_compute(
            models=models,
            features=features,
            human=human,
            human_label=str(o["human"]),
            config=config,
            order=images.canonical_order,
            probe_features=probe_features or None,
            probe_labels=probe.labels if probe else (),
            scores=scores,
        )
        paths = services.alignment_write(benchmark=benchmark, out_dir=o["out"], title=o["images"].name)
        self._table(benchmark.rows, benchmark.ceiling)
        self.stdout.write(self.style.SUCCESS(f"wrote {paths['csv']}, {o['out'] / 'rdms'}/ and {paths['report']}"))

    def _stored(self, config: AlignmentConfig, o: dict) -> None:
        data = SimilarityData.objects.filter(name=o["data"]).first()
        if data is None:
            names = ", ".join(SimilarityData.objects.order_by("name").values_list("name", flat=True)[:30]) or "none"
            raise CommandError(f"no human similarity data named {o['data']!r}; stored: {names}")
        probe_set = None
        if o["probe_set"]:
            probe_set = TargetSet.objects.filter(name=o["probe_set"]).first()
            if probe_set is None:
                raise CommandError(f"no image set named {o['probe_set']!r}")
        run = services.alignment_run_create(human=data, config=config, probe_set=probe_set, name=f"{data.name} (CLI)")
        with tqdm(total=len(config.models), desc="models", unit="model") as bar:
            run = services.alignment_run_execute(run_id=run.pk, on_progress=lambda name: bar.update(1))
        if run.status != AlignmentRun.Status.DONE:
            raise CommandError(f"alignment run {run.pk} failed: {run.error}")
        self._table(run.results["rows"], run.results["ceiling"])
        self.stdout.write(self.style.SUCCESS(f"alignment run {run.pk}: {run.csv.name}, {run.report.name}"))
        if o["out"]:
            o["out"].mkdir(parents=True, exist_ok=True)
            for field, filename in ((run.csv, "alignment.csv"), (run.report, "report.html")):
                with field.open("rb") as f:
                    (o["out"] / filename).write_bytes(f.read())

    def _table(self, rows: list[dict], ceiling: dict) -> None:
        frame = pd.DataFrame(rows)[["model", "spearman", "spearman_low", "spearman_high", "triplet"]]
        self.stdout.write(frame.sort_values("spearman", ascending=False).to_string(index=False, float_format="%.3f"))
        for line in ceiling_words(ceiling) or ["no ceiling: the data give one matrix, not one per person"]:
            self.stdout.write(line)
