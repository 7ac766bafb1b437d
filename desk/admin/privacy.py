"""Privacy actions on a client: export everything held about them, erase their personal data.

Both are admin actions on the client list that lead to a confirmation page of their own (its own URL, so the
client page can link to it for one client too). Each step checks the permission again and reads the clients
through CustomerAdmin.get_queryset, so a crafted request can neither reach another boutique's clients nor act
without the permission: the action is not offered, the page answers 403, and ids out of reach are ignored.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from core.errors import ApplicationError
from core.querystrings import int_ids
from customers.models import Customer
from desk.privacy import client_data_export
from desk.services import client_erase

# A privacy request is about a person, rarely a crowd; the selection travels in the confirmation page's URL.
MAX_CLIENTS = 100

EXPORT_PERMISSION = "export_customer_data"
ERASE_PERMISSION = "erase_customer"


class PrivacyActionsMixin:
    """Mixed into CustomerAdmin (desk.admin.customer). Its admin actions are named in `privacy_actions`."""

    privacy_actions: tuple[str, ...] = ("export_client_data", "erase_personal_data")

    # --- permissions (Django's admin actions call has_<name>_permission) ---------------------------------------

    def has_export_customer_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{EXPORT_PERMISSION}")

    def has_erase_customer_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{ERASE_PERMISSION}")

    # --- actions: the selection goes to a confirmation page ----------------------------------------------------

    @admin.action(description="Export client data (JSON)", permissions=[EXPORT_PERMISSION])
    def export_client_data(self, request: HttpRequest, queryset: QuerySet[Customer]):
        return self._to_confirmation(request, queryset, "privacy_export")

    @admin.action(description="Erase personal data", permissions=[ERASE_PERMISSION])
    def erase_personal_data(self, request: HttpRequest, queryset: QuerySet[Customer]):
        return self._to_confirmation(request, queryset, "privacy_erase")

    def _to_confirmation(self, request: HttpRequest, queryset: QuerySet[Customer], view: str):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_CLIENTS + 1])
        if not ids:
            # Django hands over the selection as far as get_queryset reaches: ids of another boutique drop out.
            self.message_user(request, "None of the selected clients can be reached.", level=messages.WARNING)
            return None
        if len(ids) > MAX_CLIENTS:
            self.message_user(
                request, f"Select at most {MAX_CLIENTS} clients for a privacy request.", level=messages.ERROR
            )
            return None
        url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{view}")
        return HttpResponseRedirect(f"{url}?ids={','.join(map(str, ids))}")

    # --- confirmation pages ----------------------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        # Before the ModelAdmin's own URLs, whose "<object id>/" would otherwise take "privacy/…".
        return [
            path(
                "privacy/export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_privacy_export".format(*info),
            ),
            path(
                "privacy/erase/",
                self.admin_site.admin_view(self.erase_view),
                name="{}_{}_privacy_erase".format(*info),
            ),
            *super().get_urls(),
        ]

    def _selected(self, request: HttpRequest) -> QuerySet[Customer]:
        """The clients named in the request that this staff member may reach (others are silently left out)."""
        raw = request.POST.get("ids") if request.method == "POST" else request.GET.get("ids")
        return self.get_queryset(request).filter(pk__in=int_ids(raw)[:MAX_CLIENTS]).order_by("pk")

    def _back_to_list(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
        )

    def _confirmation(self, request: HttpRequest, customers: list[Customer], *, kind: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "kind": kind,
            "title": "Export client data" if kind == "export" else "Erase personal data",
            "customers": customers,
            "ids": ",".join(str(customer.pk) for customer in customers),
            "already_erased": [customer for customer in customers if customer.is_anonymized],
        }
        return TemplateResponse(request, "admin/desk/privacy_confirm.html", context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """GET: which clients will be exported. POST: the JSON download, logged on each client's history."""
        if not self.has_export_customer_data_permission(request):
            raise PermissionDenied
        selected = self._selected(request)
        customers = list(selected.select_related("home_boutique"))
        if not customers:
            self.message_user(request, "None of the selected clients can be exported.", level=messages.WARNING)
            return self._back_to_list()
        if request.method != "POST":
            return self._confirmation(request, customers, kind="export")
        document = client_data_export(customers=selected, exported_by=request.user)
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=customers,
            action_flag=CHANGE,
            change_message="Exported all the data held about the client.",
            single_object=len(customers) == 1,
        )
        name = (
            f"atelier-client-{customers[0].public_id}.json"
            if len(customers) == 1
            else f"atelier-clients-{len(customers)}-{timezone.now():%Y%m%d-%H%M%S}.json"
        )
        response = HttpResponse(
            json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        # admin_view adds never_cache's headers (no-store, private): no browser or proxy keeps a copy.
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def erase_view(self, request: HttpRequest) -> HttpResponse:
        """GET: which clients will be erased (and which already were). POST: erase each, one transaction each."""
        if not self.has_erase_customer_permission(request):
            raise PermissionDenied
        customers = list(self._selected(request).select_related("home_boutique"))
        if not customers:
            self.message_user(request, "None of the selected clients can be erased.", level=messages.WARNING)
            return self._back_to_list()
        if request.method != "POST":
            return self._confirmation(request, customers, kind="erase")
        erased = 0
        for customer in customers:
            name = str(customer)
            try:
                result = client_erase(customer=customer, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{name}: {error.message}", level=messages.ERROR)
                continue
            self.log_change(request, result.customer, "Erased the client's personal data.")
            erased += 1
        if erased:
            self.message_user(
                request,
                f"Erased the personal data of {erased} client{'s' if erased != 1 else ''}.",
                level=messages.SUCCESS,
            )
        return self._back_to_list()
