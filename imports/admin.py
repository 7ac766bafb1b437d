"""Import batches in the admin: the list of every import, each batch's record and result, and the new-import flow
(upload, map the columns, preview, confirm), with rollback. Head office only (imports/migrations/0003).

The pages only read, validate and call imports.services; batches are records and are never edited by hand.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from imports.forms import ColumnMappingForm, ConfirmImportForm, ImportUploadForm, RollbackForm
from imports.mapping import ColumnMapping
from imports.models import ImportBatch, ImportKind
from imports.reader import DELIMITER_NAMES
from imports.registry import KINDS
from imports.selectors import file_columns, import_batch_status
from imports.services import (
    StoredUpload,
    import_confirm,
    import_errors_csv,
    import_rollback,
    import_start,
    import_upload_discard,
    import_upload_store,
)

OUTCOME_LABELS = {
    "new": "New",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "skipped": "Skipped",
    "invalid": "Invalid",
}
ERRORS_SHOWN = 100
# A stored upload waits this long for its columns to be mapped.
UPLOAD_TOKEN_MAX_AGE = 24 * 60 * 60
UPLOAD_TOKEN_SALT = "imports.admin.upload"


def counts_text(counts: dict[str, int]) -> str:
    return " · ".join(f"{counts.get(outcome, 0)} {label.lower()}" for outcome, label in OUTCOME_LABELS.items())


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["batch", "kind", "file_name", "status", "counts_summary", "created_by", "created_at"]
    list_filter = ["kind", "status", "is_dry_run", "created_at"]
    search_fields = ["file_name", "=checksum"]
    search_help_text = "A file name (part of it) or a file's SHA-256 checksum (exact)."
    list_select_related = ["created_by"]
    list_per_page = 50
    change_list_template = "admin/imports/importbatch/change_list.html"

    # --- permissions: view to see batches, add to import, rollback to take one back; nobody edits a batch -------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.add_{self.opts.model_name}")

    def has_change_permission(self, request: HttpRequest, obj: ImportBatch | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ImportBatch | None = None) -> bool:
        return False

    def has_rollback_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.rollback_{self.opts.model_name}")

    # --- the list ------------------------------------------------------------------------------------------------

    @admin.display(description="Batch", ordering="pk")
    def batch(self, obj: ImportBatch) -> str:
        return f"#{obj.pk}{' (dry run)' if obj.is_dry_run else ''}"

    @admin.display(description="Rows")
    def counts_summary(self, obj: ImportBatch) -> str:
        return counts_text(obj.counts) if obj.counts else "—"

    # --- URLs --------------------------------------------------------------------------------------------------

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        # Before the ModelAdmin's own URLs, whose "<object id>/" would otherwise take "new/".
        return [
            path("new/", wrap(self.upload_view), name="{}_{}_new".format(*info)),
            path("new/columns/", wrap(self.mapping_view), name="{}_{}_mapping".format(*info)),
            path("<int:batch_id>/confirm/", wrap(require_POST(self.confirm_view)), name="{}_{}_confirm".format(*info)),
            path("<int:batch_id>/errors.csv", wrap(self.errors_csv_view), name="{}_{}_errors_csv".format(*info)),
            path("<int:batch_id>/status.json", wrap(self.status_view), name="{}_{}_status".format(*info)),
            path("<int:batch_id>/rollback/", wrap(self.rollback_view), name="{}_{}_rollback".format(*info)),
            *super().get_urls(),
        ]

    def _url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}", args=args)

    def _batch(self, request: HttpRequest, batch_id: Any) -> ImportBatch:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return ImportBatch.objects.select_related("created_by", "rolled_back_by").get(pk=int(batch_id))
        except (ImportBatch.DoesNotExist, ValueError, TypeError):
            raise Http404("No such import batch.") from None

    def _context(self, request: HttpRequest, title: str, **context: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "changelist_url": self._url("changelist"),
            **context,
        }

    # --- step 1: the upload --------------------------------------------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(self._url("new"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            stored = import_upload_store(upload=upload, file_name=upload.name)
            token = signing.dumps(
                {
                    "user": request.user.pk,
                    "kind": data["kind"],
                    "stored": [stored.name, stored.checksum, stored.size],
                    "file_name": upload.name,
                    "encoding": data["encoding"],
                    "delimiter": data["delimiter"],
                    "mapping": data["mapping"].to_dict(),
                },
                salt=UPLOAD_TOKEN_SALT,
                compress=True,
            )
            return HttpResponseRedirect(f"{self._url('mapping')}?upload={token}")
        context = self._context(request, "New import", form=form, media=self.media + form.media, step=1)
        return TemplateResponse(request, "admin/imports/new.html", context)

    # --- step 2: the columns ----------------------------------------------------------------------------------

    def _pending_upload(self, request: HttpRequest) -> dict[str, Any]:
        token = request.POST.get("upload") if request.method == "POST" else request.GET.get("upload")
        try:
            pending = signing.loads(token or "", salt=UPLOAD_TOKEN_SALT, max_age=UPLOAD_TOKEN_MAX_AGE)
        except signing.BadSignature:
            raise Http404("This upload has expired or is not yours; upload the file again.") from None
        if pending.get("user") != request.user.pk or pending.get("kind") not in KINDS:
            raise Http404("This upload has expired or is not yours; upload the file again.")
        pending["token"] = token
        return pending

    def mapping_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        pending = self._pending_upload(request)
        kind = pending["kind"]
        stored = StoredUpload(*pending["stored"])
        base = ColumnMapping.from_dict(pending["mapping"])
        try:
            with default_storage.open(stored.name, "rb") as stream:
                columns = file_columns(
                    kind=kind, source=stream, mapping=base,
                    encoding=pending["encoding"] or None, delimiter=pending["delimiter"] or None,
                )
        except FileNotFoundError:
            raise Http404("This upload is no longer stored; upload the file again.") from None
        except ApplicationError as error:
            import_upload_discard(stored=stored)
            messages.error(request, f"{pending['file_name']} cannot be read: {error.message}")
            return HttpResponseRedirect(self._url("new"))
        form = ColumnMappingForm(
            request.POST if request.method == "POST" else None,
            headers=columns.headers, fields=KINDS[kind].fields, matched=columns.matched, base=base,
        )
        if request.method == "POST" and form.is_valid():
            try:
                batch = import_start(
                    kind=kind, stored=stored, file_name=pending["file_name"], actor=request.user,
                    mapping=form.cleaned_data["mapping"], encoding=pending["encoding"] or None,
                    delimiter=pending["delimiter"] or None, dry_run=True,
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                return HttpResponseRedirect(self._url("change", batch.pk))
        context = self._context(
            request, "New import: map the columns", form=form, media=self.media + form.media, step=2,
            pending=pending, kind_label=ImportKind(kind).label, columns=columns,
            delimiter_name=DELIMITER_NAMES.get(columns.delimiter, columns.delimiter),
            unmatched=[header for header in columns.headers if header.strip() and header not in columns.matched],
        )
        return TemplateResponse(request, "admin/imports/mapping.html", context)

    # --- the batch page: progress, preview and confirmation, or the result ---------------------------------------

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        batch = self._batch(request, object_id)
        status = import_batch_status(batch=batch)
        counts = batch.counts or {}
        context = self._context(
            request,
            str(batch),
            batch=batch,
            status=status,
            original=batch,
            outcomes=self._outcome_tables(batch),
            counts=[(label, counts.get(outcome, 0)) for outcome, label in OUTCOME_LABELS.items()],
            errors=list(batch.row_errors.order_by("line", "pk")[:ERRORS_SHOWN]),
            error_count=batch.row_errors.count() if status["is_finished"] else 0,
            mapping_columns=sorted((batch.mapping or {}).get("columns", {}).items()),
            mapping=batch.mapping or {},
            delimiter_name=DELIMITER_NAMES.get(batch.delimiter, batch.delimiter),
            status_url=self._url("status", batch.pk),
            errors_url=self._url("errors_csv", batch.pk),
            confirm_url=self._url("confirm", batch.pk),
            rollback_url=self._url("rollback", batch.pk),
            confirm_form=ConfirmImportForm() if self._can_confirm(request, batch) else None,
            can_rollback=batch.status == ImportBatch.Status.IMPORTED and self.has_rollback_permission(request),
        )
        return TemplateResponse(request, "admin/imports/batch.html", context)

    def _can_confirm(self, request: HttpRequest, batch: ImportBatch) -> bool:
        return (
            batch.is_dry_run
            and batch.status == ImportBatch.Status.PREVIEWED
            and bool(batch.stored_file)
            and self.has_add_permission(request)
        )

    @staticmethod
    def _outcome_tables(batch: ImportBatch) -> list[dict[str, Any]]:
        """The first rows of each outcome (batch.preview), their cells in the file's column order."""
        preview = batch.preview or {}
        headers: list[str] = preview.get("headers") or []
        tables = []
        for outcome, label in OUTCOME_LABELS.items():
            rows = preview.get(outcome) or []
            if not rows:
                continue
            keys = headers or list(rows[0].get("row", {}))
            tables.append({
                "outcome": outcome,
                "label": label,
                "count": (batch.counts or {}).get(outcome, len(rows)),
                "headers": keys,
                "rows": [
                    {
                        "line": row.get("line"),
                        "cells": [row.get("row", {}).get(key, "") for key in keys],
                        "note": _row_note(row),
                    }
                    for row in rows
                ],
            })
        return tables

    def status_view(self, request: HttpRequest, batch_id: int) -> JsonResponse:
        return JsonResponse(import_batch_status(batch=self._batch(request, batch_id)))

    def errors_csv_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        batch = self._batch(request, batch_id)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{batch.pk}-errors.csv"'
        response.write("\ufeff")  # spreadsheets then read the file as UTF-8
        import_errors_csv(batch=batch, stream=response)
        return response

    # --- step 3: confirm ------------------------------------------------------------------------------------------

    def confirm_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        preview = self._batch(request, batch_id)
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ConfirmImportForm(request.POST)
        valid_only = form.is_valid() and form.cleaned_data["valid_only"]
        runs_automation = form.is_valid() and form.cleaned_data["runs_automation"]
        try:
            batch = import_confirm(
                preview=preview, actor=request.user, valid_only=valid_only, runs_automation=runs_automation
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(self._url("change", preview.pk))
        return HttpResponseRedirect(self._url("change", batch.pk))

    # --- rollback -------------------------------------------------------------------------------------------------

    def rollback_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        batch = self._batch(request, batch_id)
        if not self.has_rollback_permission(request):
            raise PermissionDenied
        refusal = ""
        if request.method == "POST":
            try:
                import_rollback(batch=batch, actor=request.user)
            except ApplicationError as error:
                refusal = error.message
            else:
                messages.success(request, f"Batch #{batch.pk} was rolled back.")
                return HttpResponseRedirect(self._url("change", batch.pk))
        changes = dict(batch.changes.values("action").annotate(count=Count("pk")).values_list("action", "count"))
        context = self._context(
            request, f"Roll back batch #{batch.pk}", batch=batch, form=RollbackForm(), refusal=refusal,
            changes=changes, batch_url=self._url("change", batch.pk),
        )
        return TemplateResponse(request, "admin/imports/rollback.html", context, status=409 if refusal else 200)


def _row_note(row: dict[str, Any]) -> str:
    if row.get("message"):
        return f"{row['column']}: {row['message']}" if row.get("column") else row["message"]
    if row.get("reason"):
        return row["reason"]
    if row.get("fields"):
        return "Changes " + ", ".join(row["fields"])
    return ""
