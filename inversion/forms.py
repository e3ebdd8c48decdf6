"""The admin's inversion job form: every inversion setting as its own field, made from
``InversionConfig`` itself (its type, default and choices), so the form, the CLI, the API and
the stored record name the same settings."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import typing

from django import forms

from inversion import services
from inversion.config import (
    ADAPTIVE_SCOPES,
    PENALTY_FORMS,
    PRECISIONS,
    PRESETS,
    SCHEDULES,
    SEED_KINDS,
    UPDATES,
    InversionConfig,
)
from inversion.models import InversionJob
from metamer.admin import check_in_form
from science.lpips_variants import VARIANTS

CHOICES = {
    "update": UPDATES,
    "schedule": SCHEDULES,
    "seed_kind": tuple(SEED_KINDS),
    "penalty_form": PENALTY_FORMS,
    "precision": PRECISIONS,
    "lpips_variant": tuple(VARIANTS),
    "lpips_adaptive_scope": ADAPTIVE_SCOPES,
}
"""The settings with a fixed set of values, shown as lists."""

SETTINGS = [f for f in dataclasses.fields(InversionConfig) if f.name != "preset"]
"""Every setting a job's form shows, in the config's order."""

GROUPS = {
    "Optimisation": ("steps", "update", "step_size", "schedule", "surrogate", "precision", "batch_size"),
    "Seeds": ("seed_kind", "seeds_per_target", "seed_per_target", "seed"),
    "Human-leaning regularizers": (
        "rep_weight",
        "tv_weight",
        "lp_weight",
        "lp_p",
        "blur_weight",
        "transform",
        "penalty_form",
        "fourier",
    ),
    "Adversarial LPIPS": ("lpips_weight", "lpips_adaptive", "lpips_adaptive_scope", "lpips_variant"),
}
"""How the add page groups the settings; any other setting is listed after them."""


def setting_fieldsets() -> list[tuple[str, dict]]:
    grouped = {name for names in GROUPS.values() for name in names}
    rest = [f.name for f in SETTINGS if f.name not in grouped]
    sets = [(title, {"fields": list(names)}) for title, names in GROUPS.items()]
    return sets + ([("Other settings", {"fields": rest})] if rest else [])


LABELS = {
    "rep_weight": "Representation weight",
    "tv_weight": "TV weight",
    "lp_weight": "Lp weight",
    "lp_p": "Lp exponent",
    "lpips_weight": "LPIPS weight",
    "lpips_adaptive": "LPIPS weight adaptive",
    "lpips_variant": "LPIPS variant",
}


def _setting_help() -> dict[str, str]:
    """Each setting's docstring in ``InversionConfig`` (the string under its line), as help text."""
    body = ast.parse(inspect.getsource(InversionConfig)).body[0].body
    found = {}
    for line, after in itertools.pairwise(body):
        if isinstance(line, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            found[line.target.id] = " ".join(str(after.value.value).replace("``", "").split())
    return found


def _setting_field(field: dataclasses.Field, kind: type, help_text: str) -> forms.Field:
    common = {"label": LABELS.get(field.name, field.name.replace("_", " ").capitalize()), "help_text": help_text}
    if field.name in CHOICES:
        return forms.ChoiceField(choices=[(c, c) for c in CHOICES[field.name]], initial=field.default, **common)
    if kind is bool:
        return forms.BooleanField(required=False, initial=field.default, **common)
    if kind is int:
        return forms.IntegerField(initial=field.default, **common)
    if kind is float:
        return forms.FloatField(initial=field.default, **common)
    return forms.CharField(required=False, initial=field.default, **common)


class _JobForm(forms.ModelForm):
    preset = forms.ChoiceField(
        required=False,
        choices=[("", "— (the settings below)"), *((name, name) for name in PRESETS)],
        help_text="paper: the authors' method exactly (fixed step 1 from the raw seed, one seed for every target, "
        "constant, 5,000 steps, fp32, exact gradients, their forms of any regularizer); settings below that "
        "differ from the defaults override it.",
    )

    class Meta:
        model = InversionJob
        fields = ["model_spec", "target_set", "preset"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        settings = {f.name: data.get(f.name) for f in SETTINGS}
        defaults = InversionConfig().to_dict()
        # With a preset, only what was changed from the defaults overrides it.
        if data.get("preset"):
            settings = {k: v for k, v in settings.items() if v != defaults[k]}
        try:
            config = InversionConfig.from_dict({**settings, "preset": data.get("preset") or ""})
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from None
        data["config"] = config.to_dict()
        check_in_form(
            self,
            services.inversion_job_check,
            model_spec=data["model_spec"],
            target_set=data["target_set"],
            config=config,
        )
        return data


_HINTS, _HELP = typing.get_type_hints(InversionConfig), _setting_help()
InversionJobForm = type(
    "InversionJobForm",
    (_JobForm,),
    {"__module__": __name__, **{f.name: _setting_field(f, _HINTS[f.name], _HELP.get(f.name, "")) for f in SETTINGS}},
)
"""The job form: the settings' fields declared on the class, so the admin knows them by name."""
