from datetime import timedelta

import pytest
from django import forms
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict

from metamer.kept import FOLDER, KeepsUploads, held_uploads_clear


class Form(KeepsUploads, forms.Form):
    kept_uploads = ("data",)
    name = forms.CharField()
    data = forms.FileField()


def _post(**fields) -> QueryDict:
    data = QueryDict(mutable=True)
    data.update(fields)
    return data


def _held() -> list[str]:
    return default_storage.listdir(FOLDER)[1] if default_storage.exists(FOLDER) else []


def test_a_refused_form_holds_its_file_and_a_second_try_reads_it_back():
    refused = Form(_post(), {"data": SimpleUploadedFile("m.csv", b"0,1\n1,0\n")})
    assert not refused.is_valid()
    assert len(_held()) == 1
    token = refused.fields["data"].widget.kept[0]
    assert f'name="data_kept" value="{token}"' in str(refused["data"])
    again = Form(_post(name="x", data_kept=token), {})
    assert again.is_valid(), again.errors
    assert again.cleaned_data["data"].name == "m.csv"
    assert again.cleaned_data["data"].read() == b"0,1\n1,0\n"


def test_a_valid_form_holds_nothing_and_a_new_file_wins_over_the_held_one():
    refused = Form(_post(), {"data": SimpleUploadedFile("old.csv", b"old")})
    refused.is_valid()
    token = refused.fields["data"].widget.kept[0]
    replaced = Form(_post(name="x", data_kept=token), {"data": SimpleUploadedFile("new.csv", b"new")})
    assert replaced.is_valid()
    assert replaced.cleaned_data["data"].read() == b"new"
    assert len(_held()) == 1  # only the refused try's file


@pytest.mark.parametrize(
    "token", ["../../settings.py", "0" * 32 + "/x", "zz" * 16 + "/x", "", "0" * 31 + "/../../etc/passwd"]
)
def test_a_token_metamer_did_not_make_reads_nothing(token):
    form = Form(_post(name="x", data_kept=token), {})
    assert not form.is_valid()
    assert form.errors["data"] == ["This field is required."]


def test_held_files_are_cleared_after_a_day():
    Form(_post(), {"data": SimpleUploadedFile("a.csv", b"a")}).is_valid()
    assert held_uploads_clear() == 0
    assert held_uploads_clear(older_than=timedelta(seconds=-1)) == 1
    assert _held() == []
