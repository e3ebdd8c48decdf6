"""A study as one archive, and back: ``study_export`` writes the study's rows (surveys, trials,
participants, assignments, answers, payments, audit log, reports) with every row they refer to
(IRIs, targets, stimuli, jobs, model specs) and every file those rows name, into one zip with a
manifest of counts, checksums and provenance; ``study_import`` restores it on another instance
with the same ids, so reports rebuilt there give the same numbers.

The archive holds participants' identifiers and answers: keep it where the study's data may be
kept.
"""

from __future__ import annotations

import hashlib
import json
import platform
import zipfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import django
from django.apps import apps
from django.core import serializers
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.color import no_style
from django.db import connection, models, transaction

from metamer.errors import MetamerError
from surveys.models import AuditEntry, Study

FORMAT = "metamer-study/1"
MAX_ARCHIVE_MEMBERS = 1_000_000

# Rows a study owns: its own and those hanging from them. Rows they refer to (IRIs, stimuli,
# jobs, model specs, target sets) come along by reference only, so another study sharing an
# IRI never comes with it.
_OWNED = {
    "surveys.study",
    "surveys.survey",
    "surveys.trial",
    "surveys.trialslot",
    "surveys.triallpipschoice",
    "surveys.surveylink",
    "surveys.participant",
    "surveys.assignment",
    "surveys.response",
    "surveys.publication",
    "surveys.payment",
    "surveys.auditentry",
    "analysis.report",
}
# What an IRI's LPIPS judgements add is the IRI's own record: it travels with the IRI.
_CARRIED = {"inversion.iri": ["lpips_judgements"]}


def _label(obj: models.Model) -> str:
    return obj._meta.label_lower


def _collect(study: Study) -> dict[type[models.Model], dict[int, models.Model]]:
    found: dict[type[models.Model], dict[int, models.Model]] = defaultdict(dict)
    todo: list[models.Model] = [study]
    while todo:
        obj = todo.pop()
        if obj.pk in found[type(obj)]:
            continue
        found[type(obj)][obj.pk] = obj
        for field in obj._meta.concrete_fields:
            if field.is_relation and getattr(obj, field.attname) is not None:
                todo.append(getattr(obj, field.name))
        for field in obj._meta.many_to_many:
            todo.extend(getattr(obj, field.name).all())
        reverse = [r for r in obj._meta.related_objects if not r.many_to_many]
        if _label(obj) in _OWNED:
            accessors = [r.get_accessor_name() for r in reverse if r.related_model._meta.label_lower in _OWNED]
        else:
            accessors = _CARRIED.get(_label(obj), [])
        for accessor in accessors:
            related = getattr(obj, accessor, None)
            if isinstance(related, models.Model):
                todo.append(related)
            elif related is not None and hasattr(related, "all"):
                todo.extend(related.all())
    return found


def _files(objects: list[models.Model]) -> set[str]:
    return {
        getattr(obj, field.attname).name
        for obj in objects
        for field in obj._meta.concrete_fields
        if isinstance(field, models.FileField) and getattr(obj, field.attname)
    }


def study_export(*, study: Study, path: Path) -> dict:
    """Write ``study`` and everything it needs to ``path`` (a zip); returns the manifest."""
    found = _collect(study)
    order = [m for m in apps.get_models() if m in found]  # apps in dependency order, models as declared
    objects = [obj for model in order for obj in sorted(found[model].values(), key=lambda o: o.pk)]
    rows = serializers.serialize("json", objects)
    names = sorted(_files(objects))
    missing = [name for name in names if not default_storage.exists(name)]
    if missing:
        raise MetamerError(
            f"{len(missing)} files the study's rows name are missing from the media store: {missing[:3]}"
        )
    manifest = {
        "format": FORMAT,
        "study": study.name,
        "study_id": study.pk,
        "exported_at": datetime.now(UTC).isoformat(),
        "software": {"django": django.get_version(), "python": platform.python_version()},
        "rows": {model._meta.label: len(found[model]) for model in order},
        "rows_sha256": hashlib.sha256(rows.encode()).hexdigest(),
        "files": {},
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rows.json", rows)
        for name in names:
            with default_storage.open(name, "rb") as handle:
                data = handle.read()
            manifest["files"][name] = hashlib.sha256(data).hexdigest()
            archive.writestr(f"media/{name}", data)
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return manifest


def _read(path: Path) -> tuple[dict, str, zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise MetamerError(f"{path}: not a study archive ({exc})", field="archive") from None
    if len(archive.infolist()) > MAX_ARCHIVE_MEMBERS or "manifest.json" not in archive.namelist():
        raise MetamerError(f"{path}: not a study archive (no manifest.json)", field="archive")
    manifest = json.loads(archive.read("manifest.json"))
    if manifest.get("format") != FORMAT:
        raise MetamerError(f"{path}: archive format {manifest.get('format')!r}, this Metamer reads {FORMAT}")
    rows = archive.read("rows.json").decode()
    if hashlib.sha256(rows.encode()).hexdigest() != manifest["rows_sha256"]:
        raise MetamerError(f"{path}: rows.json does not match its checksum; the archive is damaged")
    return manifest, rows, archive


def study_import(*, path: Path, actor: str) -> Study:
    """Restore an archive written by ``study_export``: every checksum is checked and every id
    confirmed free before anything is stored; then files and rows are stored together (files
    written are removed again if the rows cannot be). Recorded in the study's audit log."""
    manifest, rows, archive = _read(path)
    with archive:
        objects = list(serializers.deserialize("json", rows))
        taken = [
            f"{item.object._meta.label} {item.object.pk}"
            for item in objects
            if type(item.object)._default_manager.filter(pk=item.object.pk).exists()
        ]
        if taken:
            raise MetamerError(
                f"this database already holds {len(taken)} of the archive's rows ({', '.join(taken[:3])}…): "
                "import into a fresh instance",
                field="archive",
            )
        files = {}
        for name, digest in manifest["files"].items():
            data = archive.read(f"media/{name}")
            if hashlib.sha256(data).hexdigest() != digest:
                raise MetamerError(f"{path}: {name} does not match its checksum; the archive is damaged")
            if default_storage.exists(name):
                with default_storage.open(name, "rb") as handle:
                    if hashlib.sha256(handle.read()).hexdigest() != digest:
                        raise MetamerError(f"the media store holds a different {name}: import into a fresh instance")
                continue
            files[name] = data
    written = []
    try:
        for name, data in files.items():
            written.append(default_storage.save(name, ContentFile(data)))
            if written[-1] != name:
                raise MetamerError(f"the media store would not take {name} under its own name")
        with transaction.atomic():
            with connection.constraint_checks_disabled():
                for item in objects:
                    item.save()
            connection.check_constraints()
            # Rows came with their ids: the next id each table hands out must follow them.
            models_saved = {type(item.object) for item in objects}
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), models_saved):
                    cursor.execute(statement)
            study = Study.objects.get(pk=manifest["study_id"])
            AuditEntry.objects.create(
                study=study,
                action=AuditEntry.Action.RECORD,
                actor=actor,
                reason=f"imported from an archive exported {manifest['exported_at']}",
                details={"rows": manifest["rows"], "files": len(manifest["files"])},
            )
    except Exception:
        for name in written:
            default_storage.delete(name)
        raise
    return study
