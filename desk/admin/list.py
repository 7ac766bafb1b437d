"""The client list: search, filters, columns and the actions staff run on a selection.

Search and filters are customers.filters.CustomerFilterSet's, so the list and the API find the same clients. Every
action works on the list's own queryset (scoped by customers.scoping): ids of clients the user may not see are
simply not found. Each one that writes calls a service; the admin only asks, confirms and reports.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone

from core.admin import spreadsheet_export
from core.errors import ApplicationError
from core.money import format_money
from customers.admin import APPLY_ACTION, action_confirmation_page
from customers.filters import CLIENT_BOOK_MINE, CustomerFilterSet, requesting_advisor
from customers.models import Advisor, Customer
from customers.scoping import visible_boutique_ids
from customers.services import customer_merge, customers_assign_advisor
from customers.services.merge import customer_merge_preview
from desk.admin.list_filters import (
    AdvisorListFilter,
    BoutiqueListFilter,
    ClientBookListFilter,
    ClientSetListFilter,
    ConsentListFilter,
    LastPurchaseListFilter,
    PersonaListFilter,
    StageListFilter,
    TierListFilter,
)
from insight.models import ChurnBand, ClientPrediction
from journeys.models import Journey, Stage
from journeys.services import NOTE_MAX_LENGTH, customers_enroll, customers_place_in_stage

logger = logging.getLogger(__name__)

# Enrolling and moving clients by hand is what the advisor role's "change enrollment" permission is for.
ENROLL_PERMISSION = "journeys.change_enrollment"
MERGE_PERMISSION = "customers.merge_customer"


def clients(count: int) -> str:
    return f"{count} client{'' if count == 1 else 's'}"


# --- Action forms -----------------------------------------------------------------------------------------------


class AdvisorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, advisor: Advisor) -> str:
        return str(advisor)


class AssignAdvisorForm(forms.Form):
    advisor = AdvisorChoiceField(queryset=Advisor.objects.none(), label="Advisor", empty_label=None,
                                 widget=forms.RadioSelect)

    def __init__(self, *args, advisors: QuerySet[Advisor], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["advisor"].queryset = advisors


class EnrollForm(forms.Form):
    journey = forms.ModelChoiceField(queryset=Journey.objects.filter(is_active=True), label="Journey")
    note = forms.CharField(max_length=NOTE_MAX_LENGTH, required=False, label="Why",
                           help_text="Kept on each client's enrollment.")


class MoveStageForm(forms.Form):
    ENROLL, SKIP = "enroll", "skip"

    stage = forms.ModelChoiceField(
        queryset=Stage.objects.filter(journey__is_active=True).select_related("journey").order_by(
            "journey__name", "position"
        ),
        label="Move to",
    )
    note = forms.CharField(max_length=NOTE_MAX_LENGTH, label="Why", help_text="Kept on each client's stage move.")
    not_enrolled = forms.ChoiceField(
        choices=[(ENROLL, "Enroll them straight into this stage"), (SKIP, "Leave them out")],
        initial=ENROLL,
        widget=forms.RadioSelect,
        label="Clients not in that journey yet",
    )


class MergeForm(forms.Form):
    surviving = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Keep")
    reason = forms.CharField(max_length=200, required=False, label="Why",
                             help_text="Kept on the merge's audit entry.")

    def __init__(self, *args, pair: list[Customer], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["surviving"].choices = [(customer.pk, f"{customer} (#{customer.pk})") for customer in pair]


# --- The mixin ---------------------------------------------------------------------------------------------------


class ChurnRiskListFilter(admin.SimpleListFilter):
    """Foresight's churn-risk band. Not a CustomerFilterSet filter: customers may not know insight's table, and the
    band is a join on insight's prediction row, which desk (above both) may read."""

    title = "churn risk"
    parameter_name = "churn_risk"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [*ChurnBand.choices, ("none", "No prediction")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "none":
            return queryset.filter(predictions__isnull=True)
        if value not in ChurnBand.values:
            raise IncorrectLookupParameters({"churn_risk": ["Choose low, medium, high or none."]})
        return queryset.filter(predictions__churn_band=value)


class ClientListMixin:
    """Mixed into CustomerAdmin (desk.admin.customer). Its admin actions are named in `list_actions`."""

    list_actions: tuple[str, ...] = (
        "assign_advisor",
        "enroll_in_journey",
        "move_to_stage",
        "export_csv",
        "export_xlsx",
        "merge_duplicates",
    )
    list_display = [
        "name", "tier", "value", "orders", "last_purchase", "churn_risk", "advisor_name", "boutique_name", "email",
        "phone",
    ]
    list_display_links = ["name"]
    list_filter = [
        ClientBookListFilter, BoutiqueListFilter, AdvisorListFilter, TierListFilter, PersonaListFilter,
        StageListFilter, LastPurchaseListFilter, ChurnRiskListFilter, ConsentListFilter, "is_anonymized",
        ClientSetListFilter,
    ]
    # Everything the columns show, in the page's one query.
    list_select_related = ["home_boutique", "advisor__user"]
    # Turns the search box on; get_search_results does the searching.
    search_fields = ["last_name", "first_name", "email", "phone"]
    search_help_text = "A name (or its start), a whole email address, a phone number as you would dial it, or an id."
    # updated_at has an index, so the first page is read from it instead of sorting every client.
    ordering = ["-updated_at"]
    # The unfiltered count of 100,000 clients would be a second full count on every page.
    show_full_result_count = False
    # Facet counts run every choice of every filter over all the clients: a dozen full counts per page.
    show_facets = admin.ShowFacets.NEVER

    # Columns

    @admin.display(description="Client", ordering="last_name")
    def name(self, customer: Customer) -> str:
        return str(customer)

    # Tiers are thresholds of lifetime value, so sorting by value sorts by tier, on the value's index.
    @admin.display(description="Tier", ordering="lifetime_value")
    def tier(self, customer: Customer) -> str:
        return customer.get_value_tier_display()

    @admin.display(description="Lifetime value", ordering="lifetime_value")
    def value(self, customer: Customer) -> str:
        return format_money(customer.lifetime_value, settings.HOUSE_CURRENCY)

    @admin.display(description="Orders", ordering="order_count")
    def orders(self, customer: Customer) -> int:
        return customer.order_count

    @admin.display(description="Last purchase", ordering="last_order_at")
    def last_purchase(self, customer: Customer) -> dt.date | None:
        return timezone.localdate(customer.last_order_at) if customer.last_order_at else None

    @admin.display(description="Churn risk")
    def churn_risk(self, customer: Customer) -> str:
        # Annotated by get_queryset (one subquery on the page's rows, on the prediction's unique customer index).
        band = getattr(customer, "churn_band", None)
        return ChurnBand(band).label if band else "—"

    def get_queryset(self, request):
        band = ClientPrediction.objects.filter(customer=OuterRef("pk")).values("churn_band")[:1]
        return super().get_queryset(request).annotate(churn_band=Subquery(band))

    @admin.display(description="Advisor", ordering="advisor__user__last_name")
    def advisor_name(self, customer: Customer) -> str:
        return str(customer.advisor) if customer.advisor_id else "—"

    @admin.display(description="Boutique", ordering="home_boutique__name")
    def boutique_name(self, customer: Customer) -> str:
        return customer.home_boutique.name if customer.home_boutique_id else "—"

    def get_list_display(self, request) -> list[str]:
        columns = list(super().get_list_display(request))
        if visible_boutique_ids(request.user) is not None and "boutique_name" in columns:
            columns.remove("boutique_name")  # one boutique: the column would say the same on every row
        return columns

    def get_search_results(self, request, queryset, search_term):
        filterset = CustomerFilterSet({"q": search_term}, queryset=queryset, request=request)
        return filterset.qs, False

    def changelist_view(self, request, extra_context=None):
        advisor = requesting_advisor(request.user)
        context = {"my_clients_query": f"?client_book={CLIENT_BOOK_MINE}" if advisor and advisor.boutique_id else ""}
        return super().changelist_view(request, extra_context={**context, **(extra_context or {})})

    # Permissions of the actions

    def has_enroll_permission(self, request) -> bool:
        return request.user.has_perm(ENROLL_PERMISSION)

    def has_merge_permission(self, request) -> bool:
        return request.user.has_perm(MERGE_PERMISSION)

    # Helpers

    def _nothing_found(self, request) -> None:
        self.message_user(
            request, "None of the selected clients is on your list; nothing was changed.", messages.WARNING
        )

    def _refuse(self, request, error: ApplicationError) -> None:
        self.message_user(request, f"{error.message} Nothing was changed.", messages.ERROR)

    def _confirmation_page(self, request, queryset: QuerySet[Customer], *, template: str, **context: Any):
        # Names only: the listed clients need no related rows.
        return action_confirmation_page(
            self, request, queryset.select_related(None), template=f"admin/desk/{template}.html", **context
        )

    # Actions

    @admin.action(description="Assign an advisor", permissions=["change"])
    def assign_advisor(self, request, queryset: QuerySet[Customer]):
        """Make one advisor of the clients' boutique their advisor (customers_assign_advisor)."""
        boutique_ids = set(queryset.order_by().values_list("home_boutique_id", flat=True).distinct())
        if not boutique_ids:
            return self._nothing_found(request)
        if len(boutique_ids) > 1 or None in boutique_ids:
            return self._refuse(request, ApplicationError(
                "An advisor takes clients of their own boutique only: select clients of one boutique."
            ))
        advisors = (
            Advisor.objects.visible_to(request.user)
            .filter(boutique_id=boutique_ids.pop(), is_active=True)
            .exclude(role=Advisor.Role.HEAD_OFFICE)
            .select_related("user")
        )
        form = AssignAdvisorForm(request.POST if APPLY_ACTION in request.POST else None, advisors=advisors)
        if form.is_valid():
            advisor = form.cleaned_data["advisor"]
            count = queryset.count()
            try:
                changed = customers_assign_advisor(customers=queryset, advisor=advisor, actor=request.user)
            except ApplicationError as error:
                return self._refuse(request, error)
            unchanged = f"; {count - changed} already had them" if count != changed else ""
            return self.message_user(request, f"{advisor} is now the advisor of {clients(changed)}{unchanged}.")
        return self._confirmation_page(
            request, queryset, action="assign_advisor", template="assign_advisor", title="Assign an advisor",
            form=form, submit_label="Assign",
        )

    @admin.action(description="Enroll in a journey", permissions=["enroll"])
    def enroll_in_journey(self, request, queryset: QuerySet[Customer]):
        """Enroll the clients in a journey at its first stage (customers_enroll: enrollment_enroll for each)."""
        if not queryset.exists():
            return self._nothing_found(request)
        form = EnrollForm(request.POST if APPLY_ACTION in request.POST else None)
        if form.is_valid():
            journey = form.cleaned_data["journey"]
            try:
                counts = customers_enroll(
                    customers=queryset, journey=journey, actor=request.user, note=form.cleaned_data["note"]
                )
            except ApplicationError as error:
                return self._refuse(request, error)
            already = counts["already_enrolled"]
            return self.message_user(
                request,
                f"Enrolled {clients(counts['enrolled'])} in {journey}"
                + (f"; {clients(already)} already {'was' if already == 1 else 'were'} in it." if already else "."),
            )
        return self._confirmation_page(
            request, queryset, action="enroll_in_journey", template="enroll", title="Enroll in a journey",
            form=form, submit_label="Enroll",
        )

    @admin.action(description="Move to a stage", permissions=["enroll"])
    def move_to_stage(self, request, queryset: QuerySet[Customer]):
        """Put the clients in a stage with a reason (customers_place_in_stage: enrollment_place for each)."""
        if not queryset.exists():
            return self._nothing_found(request)
        form = MoveStageForm(request.POST if APPLY_ACTION in request.POST else None)
        if form.is_valid():
            stage = form.cleaned_data["stage"]
            try:
                counts = customers_place_in_stage(
                    customers=queryset, to_stage=stage, actor=request.user, note=form.cleaned_data["note"],
                    enroll_missing=form.cleaned_data["not_enrolled"] == MoveStageForm.ENROLL,
                )
            except ApplicationError as error:
                return self._refuse(request, error)
            return self.message_user(request, self._move_message(stage, counts))
        return self._confirmation_page(
            request, queryset, action="move_to_stage", template="move_stage", title="Move to a stage", form=form,
            submit_label="Move",
        )

    @staticmethod
    def _move_message(stage: Stage, counts: dict[str, int]) -> str:
        parts = [f"Moved {clients(counts['moved'])} to {stage}"]
        if counts["enrolled"]:
            parts.append(f"enrolled {clients(counts['enrolled'])} not yet in {stage.journey} straight into it")
        if counts["skipped_not_enrolled"]:
            parts.append(f"left out {clients(counts['skipped_not_enrolled'])} not in {stage.journey}")
        if counts["already_there"]:
            parts.append(f"{clients(counts['already_there'])} already there")
        if counts["skipped_left"]:
            parts.append(f"left out {clients(counts['skipped_left'])} who had left the journey")
        return "; ".join(parts) + "."

    @admin.action(description="Export the selection to CSV", permissions=["view"])
    def export_csv(self, request, queryset: QuerySet[Customer]) -> HttpResponseBase:
        """The selected clients in the client file's form (imports.exports: one client format, for the list, the
        command line and the importer), streamed, cells a spreadsheet would run as formulas defused."""
        return spreadsheet_export(request, kind="customers", queryset=queryset, fmt="csv")

    @admin.action(description="Export the selection to XLSX", permissions=["view"])
    def export_xlsx(self, request, queryset: QuerySet[Customer]) -> HttpResponseBase:
        """The same as export_csv, as a spreadsheet: numbers as numbers, text defused."""
        return spreadsheet_export(request, kind="customers", queryset=queryset, fmt="xlsx")

    @admin.action(description="Merge two duplicate clients", permissions=["merge"])
    def merge_duplicates(self, request, queryset: QuerySet[Customer]):
        """Show the two records side by side and what survives, then fold one into the other (customer_merge)."""
        pair = list(
            queryset.select_related("home_boutique", "advisor__user", "persona")
            .prefetch_related("identities")
            .order_by("pk")[:3]
        )
        if not pair:
            return self._nothing_found(request)
        if len(pair) != 2:
            return self._refuse(request, ApplicationError(
                f"Select exactly two clients to merge ({'more than two' if len(pair) > 2 else 'one'} selected)."
            ))
        form = MergeForm(request.POST if APPLY_ACTION in request.POST else None, pair=pair)
        if form.is_valid():
            surviving, merged = pair if form.cleaned_data["surviving"] == pair[0].pk else pair[::-1]
            merged_label = f"{merged} (#{merged.pk})"
            try:
                record = customer_merge(
                    surviving=surviving, merged=merged, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ApplicationError as error:
                return self._refuse(request, error)
            moved = ", ".join(f"{kind.replace('_', ' ')} {count}" for kind, count in record.moved.items() if count)
            self.message_user(request, f"Merged {merged_label} into {surviving} (moved: {moved or 'nothing'}).")
            return HttpResponseRedirect(reverse("admin:customers_customer_change", args=[surviving.pk]))
        return self._confirmation_page(
            request, queryset, action="merge_duplicates", template="merge", title="Merge two duplicate clients",
            form=form, submit_label="Merge", pair=pair, comparison=merge_comparison(*pair),
        )


def _shown(value: Any) -> Any:
    """A blank as a dash; anything else, zero included, as itself."""
    return "—" if value is None or value == "" else value


def merge_comparison(first: Customer, second: Customer) -> list[dict[str, Any]]:
    """The rows of the merge page: each field of both records and what the survivor holds if either is kept."""
    keep_first = customer_merge_preview(surviving=first, merged=second)
    keep_second = customer_merge_preview(surviving=second, merged=first)
    rows = [
        {
            "label": Customer._meta.get_field(one.field).verbose_name.capitalize(),
            "first": _shown(getattr(first, one.field)),
            "second": _shown(getattr(second, one.field)),
            "keep_first": one,
            "keep_second": other,
        }
        for one, other in zip(keep_first, keep_second, strict=True)
    ]
    # Orders, value and identities are not chosen: they all move to the survivor, whose metrics are recomputed.
    identities = [[str(identity) for identity in customer.identities.all()] for customer in (first, second)]
    combined = sorted(identities[0] + identities[1])
    for label, one, two, total in [
        ("Orders", first.order_count, second.order_count, first.order_count + second.order_count),
        ("Lifetime value", first.lifetime_value, second.lifetime_value, first.lifetime_value + second.lifetime_value),
        ("Identities", ", ".join(identities[0]), ", ".join(identities[1]), ", ".join(combined)),
    ]:
        rows.append({"label": label, "first": _shown(one), "second": _shown(two), "combined": _shown(total)})
    return rows
