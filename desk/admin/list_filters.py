"""The client list's filters: each runs one filter of customers.filters.CustomerFilterSet, so the list, the API
and saved segments find the same clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR

from core.querystrings import int_id
from customers.filters import CLIENT_BOOK_MINE, CustomerFilterSet, requesting_advisor
from customers.models import Advisor
from customers.scoping import visible_boutique_ids
from journeys.models import Stage


class FilterSetListFilter(admin.SimpleListFilter):
    """A list filter that runs one filter of CustomerFilterSet (its `parameter_name`), so that the list, the API
    and saved segments filter alike. An id the user may not choose (another boutique's advisor) is refused."""

    filterset_class = CustomerFilterSet

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        field = self.filterset_class(request=request).form.fields[self.parameter_name]
        return [(str(value), str(label)) for value, label in field.choices if str(value) != ""]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        filterset = self.filterset_class({self.parameter_name: self.value()}, queryset=queryset, request=request)
        if not filterset.is_valid():
            raise IncorrectLookupParameters(filterset.errors)
        return filterset.qs


class BoutiqueListFilter(FilterSetListFilter):
    """Only head office sees more than one boutique, so only head office is offered this filter."""

    title = "boutique"
    parameter_name = "boutique_id"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        if visible_boutique_ids(request.user) is not None:
            return []
        return super().lookups(request, model_admin)


class AdvisorListFilter(FilterSetListFilter):
    """The advisors whose clients the user sees (head office: of the chosen boutique, else all)."""

    title = "advisor"
    parameter_name = "advisor_id"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        advisors = (
            Advisor.objects.visible_to(request.user)
            .exclude(role=Advisor.Role.HEAD_OFFICE)
            .select_related("user")
        )
        boutique_id = int_id(request.GET.get("boutique_id"))
        if boutique_id is not None:
            advisors = advisors.filter(boutique_id=boutique_id)
        choices = [(str(advisor.pk), f"{advisor}{'' if advisor.is_active else ' (left)'}") for advisor in advisors]
        return [*choices, ("null", "No advisor")]


class TierListFilter(FilterSetListFilter):
    title = "tier"
    parameter_name = "value_tier"


class PersonaListFilter(FilterSetListFilter):
    title = "persona"
    parameter_name = "persona_id"


class StageListFilter(FilterSetListFilter):
    """Clients currently in a stage (the filter set takes a stage id: customers may not import journeys)."""

    title = "journey stage"
    parameter_name = "stage_id"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        stages = Stage.objects.filter(journey__is_active=True).select_related("journey")
        return [(str(stage.pk), str(stage)) for stage in stages.order_by("journey__name", "position")]


class ClientSetListFilter(FilterSetListFilter):
    """The clients behind a figure (the journey map's numbers link here with `client_set`); offered only while one
    is chosen, so that the list says what it is filtered on and one click clears it."""

    title = "clients behind a figure"
    parameter_name = "client_set"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        return [(value, value)] if value else []


class LastPurchaseListFilter(FilterSetListFilter):
    title = "last purchase"
    parameter_name = "last_purchase"


class ConsentListFilter(FilterSetListFilter):
    title = "consent given"
    parameter_name = "consent"


class ClientBookListFilter(FilterSetListFilter):
    """"My clients": the client book of the logged-in staff member (Customer.objects.assigned_to(user)).

    Advisors open the list on their own book: with no `client_book` parameter in the URL the filter reads "mine".
    "All clients" (`client_book=all`) shows every client they may see, their boutique's. A search, though, looks
    through all of those, because the client at the counter is often in a colleague's book; choosing "My
    clients" narrows it again. Managers and head office open on all clients; for them and anyone else the
    object-tools link "My clients" (`?client_book=mine`) opens their book.
    """

    title = "client book"
    parameter_name = "client_book"
    ALL = "all"

    def __init__(self, request, params, model, model_admin) -> None:
        advisor = requesting_advisor(request.user)
        self.opens_on_mine = (
            advisor is not None and advisor.role == Advisor.Role.ADVISOR and not request.GET.get(SEARCH_VAR, "").strip()
        )
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [(CLIENT_BOOK_MINE, "My clients"), (self.ALL, "All clients")]

    def value(self) -> str | None:
        value = super().value()
        if value is None and self.opens_on_mine:
            return CLIENT_BOOK_MINE
        return value

    def queryset(self, request, queryset):
        if self.value() == self.ALL:
            return queryset
        return super().queryset(request, queryset)

    def choices(self, changelist) -> Iterator[dict[str, Any]]:
        current = self.value() or self.ALL
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }
