from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from science.images import read_image
from science.lpips_variants import VARIANTS, is_variant
from science.perceptual import lpips_distance


class Command(BaseCommand):
    help = "LPIPS distance between two images (read as RGB, [0, 1] mapped to [-1, 1]); the last word is the distance."

    def add_arguments(self, parser):
        parser.add_argument("image_a")
        parser.add_argument("image_b")
        parser.add_argument(
            "--variant",
            default="alex-lin",
            help=f"One of {', '.join(VARIANTS)}; or alex-randlin-<seed> / vgg-randlin-<seed>, the authors' "
            "notebook's random linear layers (for reproducing its numbers only).",
        )

    def handle(self, image_a, image_b, variant, **options):
        if not is_variant(variant):
            raise CommandError(f"unknown LPIPS variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        try:
            a, b = read_image(image_a), read_image(image_b)
        except OSError as exc:
            raise CommandError(f"cannot read the image: {exc}") from None
        if a.shape != b.shape:
            raise CommandError(f"the images differ in size: {tuple(a.shape[2:])} vs {tuple(b.shape[2:])}")
        distance = lpips_distance(a, b, variant, cache_dir=settings.METAMER_CACHE_DIR).item()
        self.stdout.write(f"LPIPS {variant} {distance:.6f}")
