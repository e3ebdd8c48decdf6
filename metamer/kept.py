"""Uploads kept across a failed validation: a researcher who chose a 15 MB archive and mistyped
a name fixes the name, not the archive.

A form with ``KeepsUploads`` stores each file it was sent under ``held/<random hex>`` when the
form is refused, and its file input carries a hidden ``<field>_kept`` token naming it; sent back without a new
file, the form reads the held one in its place. Held files are staff-only media (never served
to workers) and are removed a day later (``held_uploads_clear``).
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import PurePosixPath

from django import forms
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import get_valid_filename

FOLDER = "held"
KEPT_FOR = timedelta(days=1)
TOKEN = re.compile(r"([0-9a-f]{32})/(.{1,200})")


def _suffix(name: str) -> str:
    return name + "_kept"


def _held(token: str) -> tuple[str, str] | None:
    """The stored path and shown name a token names, or None for a token Metamer did not make
    (or whose file has gone)."""
    match = TOKEN.fullmatch(token or "")
    if match is None:
        return None
    path = f"{FOLDER}/{match.group(1)}"
    if not default_storage.exists(path):
        return None
    return path, _shown(match.group(2))


def _shown(name: str) -> str:
    """A file name safe to show and to give an import (which reads its suffix)."""
    try:
        return get_valid_filename(PurePosixPath(name).name)[:200]
    except SuspiciousFileOperation:
        return "upload"


class KeptFileInput(forms.ClearableFileInput):
    """A file input followed by the hidden token of the file held for it, if any, and its name."""

    kept: tuple[str, str] | None = None

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        if self.kept is None:
            return html
        token, shown = self.kept
        return html + format_html(
            '<input type="hidden" name="{}" value="{}"><p class="help">Kept from your last try: <b>{}</b>. '
            "Choose a file only to replace it.</p>",
            _suffix(name),
            token,
            shown,
        )


class KeepsUploads:
    """Mix into a form before ``forms.Form``/``forms.ModelForm``; ``kept_uploads`` names its file fields."""

    kept_uploads: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.kept_uploads:
            if name not in self.fields:  # a page that shows the file read-only
                continue
            field = self.fields[name]
            field.widget = KeptFileInput(attrs=field.widget.attrs)
            token = self.data.get(_suffix(self.add_prefix(name)), "") if self.is_bound else ""
            held = _held(token)
            if held is not None and not self.files.get(self.add_prefix(name)):
                field.required = False  # the held file stands in for a new one
                field.widget.kept = (token, held[1])

    def _held_upload(self, name: str) -> UploadedFile | None:
        widget = self.fields[name].widget
        if widget.kept is None:
            return None
        path = f"{FOLDER}/{widget.kept[0].split('/')[0]}"
        return UploadedFile(file=default_storage.open(path, "rb"), name=widget.kept[1], size=default_storage.size(path))

    def clean(self):
        data = super().clean()
        for name in self.kept_uploads:
            if name in self.fields and not data.get(name) and name not in self.errors:
                held = self._held_upload(name)
                if held is not None:
                    data[name] = held
        return data

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or not self.errors:
            return
        for name in self.kept_uploads:
            upload = self.files.get(self.add_prefix(name))
            if not upload or name not in self.fields:
                continue
            upload.seek(0)
            shown = _shown(upload.name)
            key = uuid.uuid4().hex
            default_storage.save(f"{FOLDER}/{key}", upload)
            self.fields[name].widget.kept = (f"{key}/{shown}", shown)


def held_uploads_clear(*, older_than: timedelta = KEPT_FOR) -> int:
    """Remove held uploads older than ``older_than``; how many were removed."""
    if not default_storage.exists(FOLDER):
        return 0
    cutoff = timezone.now() - older_than
    removed = 0
    for name in default_storage.listdir(FOLDER)[1]:
        path = f"{FOLDER}/{name}"
        if default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            removed += 1
    return removed
