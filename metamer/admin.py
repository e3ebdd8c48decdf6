"""Admin pieces shared by the apps."""

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html

from metamer.errors import MetamerError


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, made by services only: no adding, editing or deleting.
    Subclasses set ``model`` and ``fields``; every field is read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class CreatedByServiceAdmin(admin.ModelAdmin):
    """An admin whose new objects a service makes. The add form's ``clean()`` runs the
    service's check, which stores nothing and puts what is wrong beside the field; saving runs
    the service (``create``). Should the service still refuse, its message is shown and the
    add page comes back, with nothing stored and nothing logged."""

    def create(self, request, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            created = self.create(request, form.cleaned_data)
        except MetamerError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.__dict__.update(created.__dict__)

    def save_related(self, request, form, formsets, change):
        if change:  # the service stored the new object's relations itself
            super().save_related(request, form, formsets, change)

    def log_addition(self, request, obj, message):
        if obj.pk is not None:
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request, obj, post_url_continue=None):
        if obj.pk is None:
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)


class RefreshWhileRunning:
    """A change page that reloads itself every few seconds while its object's work runs
    (``is_running``), until the researcher edits a field (``static/metamer/refresh.js``)."""

    change_form_template = "admin/refreshing_change_form.html"
    refresh_seconds = 3

    def is_running(self, obj: Model) -> bool:
        raise NotImplementedError

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and self.is_running(obj):
            context["refresh_seconds"] = self.refresh_seconds
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


def progress_html(done: int, total: int, eta_seconds: float | None, what: str) -> str:
    """A progress bar with its words: ``done/total what (percent), about N s left``."""
    if not total:
        return format_html("<span>{}</span>", f"starting: {what}")
    eta = f", about {eta_seconds:.0f} s left" if eta_seconds else ""
    return format_html(
        '<progress value="{}" max="{}" style="width: 12em; vertical-align: middle"></progress> {}',
        done,
        total,
        f"{done}/{total} {what} ({100 * done / total:.0f}%{eta})",
    )


def check_in_form(form: forms.Form, check: Callable[..., Any], **kwargs: Any) -> Any:
    """Run a service's ``*_check`` from a form's ``clean()``: its refusal becomes a form error on
    the field it names (or on the form)."""
    try:
        return check(**kwargs)
    except MetamerError as exc:
        raise forms.ValidationError({exc.field: exc.message} if exc.field in form.fields else exc.message) from None


def act_on_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: Iterable[Any],
    act: Callable[[Any], Any],
    done: Callable[[Any], str] | None = None,
) -> None:
    """An admin action's loop: ``act`` on each selected object; a refusal (``MetamerError``)
    becomes a warning naming the object, and the others go on."""
    for obj in queryset:
        try:
            act(obj)
        except MetamerError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
        else:
            if done is not None:
                modeladmin.message_user(request, done(obj))


def confirm_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: Iterable[Any],
    *,
    title: str,
    message: str,
    reason: str = "",
) -> TemplateResponse:
    """The one confirmation step of the admin's actions: what will happen (``message``: the
    cost, before money moves) over the objects it happens to, with a required reason field
    (posted as ``feedback``) when ``reason`` labels one. Posting it back runs the action with
    ``confirm``."""
    return TemplateResponse(
        request,
        "admin/confirm_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "message": message,
            "objects": list(queryset),
            "reason": reason,
            "action": request.POST["action"],
            "opts": modeladmin.model._meta,
        },
    )


class RecordedOnly:
    """A model admin for records that Metamer makes as work happens (answers, answer keys,
    sequences, payments, judgements, IRIs): they stay as recorded. They are looked at and acted
    on through actions (services, which write the audit log), never added, edited or deleted
    by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


WORKFLOW = {
    "inversion": ["modelspec", "targetset", "inversionjob", "iri", "stimulus", "lpipsjudgement"],
    "surveys": [
        "study",
        "survey",
        "similaritydata",
        "publication",
        "participant",
        "assignment",
        "response",
        "payment",
        "trial",
    ],
    "analysis": ["report", "alignmentrun"],
}
"""Sections and pages in the order of the work: networks, image sets and jobs; studies and
their surveys, the people who answer and their pay; then reports. Accounts and tokens last."""


PATH = [
    ("inversion.ModelSpec", "Register a network and a layer", "a built-in, or your own weights", "add"),
    ("inversion.TargetSet", "Add target images", "an archive of images, or noise", "add"),
    ("inversion.InversionJob", "Run an inversion job", "IRIs from noise seeds, with progress", "add"),
    ("surveys.Study", "Make a study", "who recruits, the budget, the completion code", "add"),
    ("surveys.Survey", "Design a survey", "from finished jobs; preview it as a worker from its page", "add"),
    ("surveys.Publication", "Publish the study", "select the study and “Publish”: the cost comes first", "study"),
    ("analysis.Report", "Build the report", "select the study and “Build a report”: people against LPIPS", "study"),
]
"""The researcher's path on the admin's home: (model, step, what it takes, where to act: its add
page, or ``study``: the studies' list, whose action publishes)."""


def _step(label: str, title: str, hint: str, act: str) -> dict[str, Any]:
    from django.apps import apps
    from django.urls import reverse

    opts = apps.get_model(label)._meta
    return {
        "title": title,
        "hint": hint,
        "list": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        "act": "add" if act == "add" else "go",
        "act_url": reverse(
            f"admin:{opts.app_label}_{opts.model_name}_add" if act == "add" else "admin:surveys_study_changelist"
        ),
    }


def research_path() -> list[dict[str, Any]]:
    """Each step of ``PATH`` with how many are made so far, its links, and which one comes next
    (the first with none)."""
    from django.apps import apps

    steps, found_next = [], False
    for label, title, hint, act in PATH:
        count = apps.get_model(label).objects.count()
        is_next = not count and not found_next
        found_next |= is_next
        steps.append({**_step(label, title, hint, act), "count": count, "next": is_next})
    return steps


def path_after(model: type[Model]) -> dict[str, Any] | None:
    """The step of ``PATH`` that follows the one that makes ``model``, with its links."""
    labels = [label for label, *_ in PATH]
    if model._meta.label not in labels:
        return None
    index = labels.index(model._meta.label)
    return _step(*PATH[index + 1]) if index + 1 < len(PATH) else None


class SaysWhatComesNext:
    """An admin of a step of the researcher's path: once an object is added, a message names the
    next step, with its link, wherever the save lands."""

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        step = path_after(type(obj)) if obj.pk is not None else None
        if step is not None:
            self.message_user(
                request,
                format_html('Next: <a href="{}">{}</a> ({}).', step["act_url"], step["title"], step["hint"]),
            )
        return response


class MetamerAdminSite(admin.AdminSite):
    site_header = "Metamer"
    site_title = "Metamer"
    index_title = "From networks to IRIs, surveys and reports, in the order of the work"
    index_template = "admin/metamer_index.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        return super().index(request, {**(extra_context or {}), "research_path": research_path()})

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        order = list(WORKFLOW)
        apps.sort(key=lambda app: order.index(app["app_label"]) if app["app_label"] in order else len(order))
        for app in apps:
            models = WORKFLOW.get(app["app_label"], [])
            app["models"].sort(
                key=lambda m: models.index(m["object_name"].lower()) if m["object_name"].lower() in models else 99
            )
        return apps
