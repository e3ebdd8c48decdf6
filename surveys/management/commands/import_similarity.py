"""Import people's similarity judgements over an image set.

python manage.py import_similarity kriegeskorte92 PATH
python manage.py import_similarity matrices --image-set NAME --name NAME FILE [FILE ...] [--variable V] [--similarities]
python manage.py import_similarity triplets --image-set NAME --name NAME FILE
python manage.py import_similarity matrices --images FOLDER_OR_ARCHIVE --name NAME FILE   (images and data in one step)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inversion.models import TargetSet
from metamer.errors import MetamerError
from surveys import services
from surveys.models import SimilarityData
from surveys.selectors import ceiling_sentence


class Command(BaseCommand):
    help = "Import human similarity data (matrices or triplets) over an image set, or the kriegeskorte92 example."

    def add_arguments(self, parser: CommandParser) -> None:
        kinds = parser.add_subparsers(dest="kind", required=True)
        example = kinds.add_parser("kriegeskorte92", help="92 object images and 16 people's matrices")
        example.add_argument("path", type=Path, help="the folder of rsatoolbox's demos/92imageData files")
        example.add_argument("--name", default="kriegeskorte92")
        matrices = kinds.add_parser("matrices", help="dissimilarity (or similarity) matrices: CSV, NPY or .mat")
        matrices.add_argument("files", nargs="+", type=Path, help="one file per person, or one people×n×n file")
        matrices.add_argument("--variable", default="", help="the .mat variable when the file holds several")
        matrices.add_argument("--similarities", action="store_true", help="the files hold similarities, not distances")
        triplets = kinds.add_parser("triplets", help="a CSV of i,j,k,choice (or i,j,k,chosen) rows")
        triplets.add_argument("files", nargs=1, type=Path)
        for sub in (matrices, triplets):
            over = sub.add_mutually_exclusive_group(required=True)
            over.add_argument("--image-set", help="the image (target) set the indices refer to")
            over.add_argument(
                "--images",
                type=Path,
                help="the images themselves (a folder, .zip or .tar), imported with the data as an image set of "
                "the same name; rows, columns and indices follow their file names, sorted",
            )
            sub.add_argument("--image-size", type=int, default=224, help="with --images: the side, in pixels")
            sub.add_argument("--name", required=True)
            sub.add_argument("--source", default="", help="where the data came from (cite it)")

    def handle(self, *args, kind: str, **options) -> None:
        try:
            data = self._import(kind, options)
        except MetamerError as exc:
            raise CommandError(exc.message) from None
        self._report(data)

    def _import(self, kind: str, options: dict) -> SimilarityData:
        if kind == "kriegeskorte92":
            return services.kriegeskorte92_import(path=options["path"], name=options["name"])
        image_set, images = None, options["images"]
        if images is None:
            image_set = TargetSet.objects.filter(name=options["image_set"]).first()
            if image_set is None:
                raise MetamerError(f"no image set {options['image_set']!r}; see the admin's target sets for names")
        elif not images.exists():
            raise MetamerError(f"{images}: no such folder or archive")
        files = options["files"]
        for path in files:
            if not path.is_file():
                raise MetamerError(f"{path}: no such file")
        common = {
            "name": options["name"],
            "image_set": image_set,
            "images": images,
            "image_size": options["image_size"],
            "source": options["source"],
        }
        if kind == "triplets":
            with files[0].open("rb") as f:
                return services.similarity_data_upload(**common, kind=kind, file=f, filename=files[0].name)
        stacks = []
        for path in files:
            with path.open("rb") as f:
                stacks.append(services.similarity_file_read(file=f, filename=path.name, variable=options["variable"]))
        shapes = {s.shape[1:] for s in stacks}
        if len(shapes) > 1:
            raise MetamerError(f"the files' matrices differ in size ({', '.join(map(str, sorted(shapes)))})")
        return services.similarity_data_import(
            **common,
            matrices=np.concatenate(stacks),
            similarities=options["similarities"],
            filename=", ".join(p.name for p in files),
        )

    def _report(self, data: SimilarityData) -> None:
        self.stdout.write(
            f"{data.name}: {data.n_items} images, {data.n_people} people, {data.n_judgements:,} judgements"
        )
        r = data.reliability
        if r:
            self.stdout.write(
                f"split-half r = {r['split_half_r']:.2f} (95% of splits {r['r_low']:.2f}–{r['r_high']:.2f}), "
                f"Spearman–Brown {r['spearman_brown']:.2f}; {ceiling_sentence(r)}"
            )
