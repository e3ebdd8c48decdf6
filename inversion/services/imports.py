"""Large uploads imported in the background, in chunks.

An upload of more than ``INLINE_MAX`` images is checked from its headers in the request, stored
under a generated name and imported by a task, ``CHUNK`` images per transaction: the database's
write lock is held for one chunk's rows at a time (workers' answers never wait on an import),
one image is decoded at a time (memory does not grow with the archive), and progress shows in
the admin and the API. A killed import resumes where it stopped when its task is delivered again
(or the beat sends it again), first removing the files of the chunk that never committed; a
failed one removes everything it stored and says why.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from inversion import archives
from inversion.models import Stimulus, Target, TargetSet
from metamer.errors import MetamerError
from metamer.queue import send_stamped
from metamer.uploads import local_path

INLINE_MAX = 64
"""Uploads of at most this many images are imported inside the request (a few seconds)."""
CHUNK = 50
UNSENT_GRACE_SECONDS = 30


def target_set_import_start(
    *, name: str, path: Path, image_size: int, members: list[str], sample_seed: int | None, shown: str
) -> TargetSet:
    """Store the set as IMPORTING with its archive, and queue its import once committed.
    ``members``: the images to import, already checked and sampled."""
    target_set = TargetSet.objects.create(
        name=name,
        kind=TargetSet.Kind.IMAGES,
        source=shown,
        image_size=image_size,
        sample_seed=sample_seed,
        status=TargetSet.Status.IMPORTING,
        total=len(members),
    )
    if path.is_dir():  # one image, in the folder ``upload_on_disk`` made for it
        path = next(p for p in path.iterdir() if p.is_file())
    with open(path, "rb") as handle:
        target_set.upload.save(Path(shown).name, File(handle), save=True)
    send_import(target_set)
    return target_set


def send_import(target_set: TargetSet) -> None:
    """Queue the filling of an IMPORTING set once committed (``target_set_import_run``)."""
    from inversion.tasks import run_target_set_import  # tasks import services: resolved at call time

    send_stamped(run_target_set_import, target_set)


def target_set_imports_send_unsent() -> int:
    """Imports the task queue could not take when they were made, sent again (the beat)."""
    cutoff = timezone.now() - timedelta(seconds=UNSENT_GRACE_SECONDS)
    unsent = TargetSet.objects.filter(status=TargetSet.Status.IMPORTING, enqueued_at=None, created_at__lt=cutoff)
    for target_set in unsent:
        send_import(target_set)
    return len(unsent)


@contextmanager
def _local(upload) -> Iterator[Path]:
    """The stored upload as a local path to import: an archive, or a folder holding the one image
    uploaded (as ``upload_on_disk`` gives it)."""
    with local_path(upload) as local, tempfile.TemporaryDirectory() as tmp:
        if local.suffix.lower() in archives.IMAGE_SUFFIXES:
            folder = Path(tmp) / "images"
            folder.mkdir()
            (folder / local.name).symlink_to(local)
            local = folder
        yield local


def target_set_import_run(*, target_set_id: int) -> None:
    """Import (or resume importing) an IMPORTING set, chunk by chunk; mark it READY or FAILED.
    A noise set is drawn whole (in one transaction: a killed draw leaves no rows to resume)."""
    target_set = TargetSet.objects.get(pk=target_set_id)
    if target_set.status != TargetSet.Status.IMPORTING:
        return
    from science import images as imageio

    if target_set.kind == TargetSet.Kind.NOISE:
        from inversion.services.targets import target_set_noise_draw

        target_set_noise_draw(target_set=target_set, n=target_set.total)
        return
    _discard_pending(target_set)
    sample = target_set.total if target_set.sample_seed is not None else None
    try:
        with _local(target_set.upload) as path:
            members = archives.image_members(path)
            if sample is not None:
                members = archives.sample_members(members, sample, target_set.sample_seed)
            done = target_set.targets.count()
            for start in range(done, len(members), CHUNK):
                fitted = [
                    (label, imageio.fit(image, target_set.image_size))
                    for label, image in archives.load_members(path, members[start : start + CHUNK])
                ]
                _store_chunk(target_set, start, fitted)
    except archives.ImageError as exc:
        target_set_import_fail(target_set=target_set, message=f"{target_set.source}: {exc}")
        return
    upload = target_set.upload.name
    TargetSet.objects.filter(pk=target_set.pk).update(status=TargetSet.Status.READY, upload="", message="")
    default_storage.delete(upload)


def _store_chunk(target_set: TargetSet, start: int, fitted: list) -> None:
    """Write one chunk's files under names recorded first, then its rows in one transaction."""
    from science import images as imageio

    encoded = []
    for label, image in fitted:
        data = imageio.png_bytes(imageio.to_tensor(image))
        encoded.append((label, data, imageio.sha256(data), image.size))
    field = Stimulus._meta.get_field("image")
    names = [
        default_storage.get_available_name(field.generate_filename(None, f"target-{digest[:16]}.png"))
        for _, _, digest, _ in encoded
    ]
    TargetSet.objects.filter(pk=target_set.pk).update(pending_files=names)
    for name, (_, data, _, _) in zip(names, encoded, strict=True):
        if default_storage.save(name, ContentFile(data)) != name:
            raise MetamerError(f"the media store would not take {name} under its own name")
    with transaction.atomic():
        for offset, (name, (label, _, digest, (width, height))) in enumerate(zip(names, encoded, strict=True)):
            stimulus = Stimulus.objects.create(
                role=Stimulus.Role.TARGET, sha256=digest, width=width, height=height, image=name
            )
            Target.objects.create(target_set=target_set, index=start + offset, label=label, stimulus=stimulus)
        TargetSet.objects.filter(pk=target_set.pk).update(imported=start + len(encoded), pending_files=[])


def _discard_pending(target_set: TargetSet) -> None:
    """Files a killed chunk wrote but never committed rows for."""
    known = set(Stimulus.objects.filter(image__in=target_set.pending_files).values_list("image", flat=True))
    for name in target_set.pending_files:
        if name not in known:
            default_storage.delete(name)
    TargetSet.objects.filter(pk=target_set.pk).update(pending_files=[])


def target_set_import_fail(*, target_set: TargetSet, message: str) -> None:
    """An import that cannot finish: everything it stored goes (rows, images, the archive), the
    set stays FAILED with ``message`` saying why."""
    _discard_pending(target_set)
    with transaction.atomic():
        targets = Target.objects.filter(target_set=target_set)
        stimuli = list(Stimulus.objects.filter(pk__in=targets.values("stimulus")).values_list("pk", "image"))
        targets.delete()
        Stimulus.objects.filter(pk__in=[pk for pk, _ in stimuli]).delete()
        TargetSet.objects.filter(pk=target_set.pk).update(
            status=TargetSet.Status.FAILED, message=message[:2000], imported=0, upload=""
        )
    for _, name in stimuli:
        default_storage.delete(name)
    if target_set.upload.name:
        default_storage.delete(target_set.upload.name)
