"""The client page (customer 360): header, timeline, journeys, quick actions, history.

The page adds its sections to the client's change form (templates/admin/customers/customer/change_form.html); the
standard edit form stays below them. Quick actions are small POST forms, each to its own admin URL under the
client, each calling one service; the client is always loaded through the admin's scoped queryset, so another
boutique's client is a 404 and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from core.money import format_money
from customers.models import Advisor, Customer, SourceSystem
from customers.selectors import client_open_contact_conflicts
from customers.services import customers_assign_advisor
from desk.admin.appointments import AppointmentForm, book_from_form, pending_form
from desk.selectors import (
    ConsentState,
    HistoryEntry,
    JourneyStatus,
    advisor_choices,
    client_consent,
    client_journeys,
    client_last_visit_at,
    client_upcoming_appointments,
    customer_history,
    movable_stages,
)
from insight.selectors_predictions import PredictionInWords, client_prediction_words
from journeys.models import FollowUp, HandsOff, Stage, Transition
from journeys.selectors import hands_off_in_force, stages_of_active_journeys
from journeys.services import enrollment_place, hands_off_lift, hands_off_set
from touchpoints.models import Appointment
from touchpoints.selectors import TimelineEntry, customer_timeline
from touchpoints.services import STAFF_LOGGED_TYPES, interaction_log

TIMELINE_PAGE_SIZE = 25
# The query parameter that carries the timeline's cursor ("older" links).
TIMELINE_CURSOR = "timeline"
PREFERENCE_LABELS = (("sizes", "Sizes"), ("categories", "Categories"), ("styles", "Styles"))
# The touchpoints staff log by hand (the service's list), with the short words the buttons say.
LOG_LABELS = {"store_visit": "Visit", "phone_call": "Call", "advisor_note": "Note"}
LOG_CHOICES = tuple((code, LOG_LABELS.get(code, code)) for code in STAFF_LOGGED_TYPES)

# Channel icons drawn inline (no external assets): 24×24 strokes in the text colour.
_ICON_PATHS = {
    "boutique": '<path d="M3 9l1.5-5h15L21 9M4 9v11h16V9M9 20v-6h6v6"/>',
    "web": '<circle cx="12" cy="12" r="9"/><path d="M3 12h18M12 3c3 3.5 3 14.5 0 18M12 3c-3 3.5-3 14.5 0 18"/>',
    "app": '<rect x="7" y="2" width="10" height="20" rx="2"/><path d="M11 18h2"/>',
    "email": '<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3 7l9 6 9-6"/>',
    "sms": '<rect x="6" y="2" width="12" height="20" rx="2"/><path d="M9 7h6M9 11h6M9 15h3"/>',
    "phone": '<path d="M5 3h4l2 5-2.5 1.5a11 11 0 0 0 6 6L16 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 5a2 2 0 0 1 2-2z"/>',
    "messaging": '<path d="M21 12a8 8 0 0 1-11.5 7.2L4 21l1.8-5.5A8 8 0 1 1 21 12z"/>',
    "social": '<path d="M12 20s-7-4.5-7-10a4 4 0 0 1 7-2.6A4 4 0 0 1 19 10c0 5.5-7 10-7 10z"/>',
    "event": '<path d="M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z"/>',
    "purchase": '<path d="M5 8h14l-1 13H6zM9 8V6a3 3 0 0 1 6 0v2"/>',
    "stage": '<path d="M4 12h14M13 6l6 6-6 6"/>',
    "advisor_task": '<rect x="4" y="4" width="16" height="16" rx="2"/><path d="M8 12l3 3 5-6"/>',
    "feedback": '<circle cx="12" cy="12" r="9"/><path d="M8.5 14.5a4 4 0 0 0 7 0M9 9.5h.01M15 9.5h.01"/>',
}
_CHANNEL_LABELS = {
    "boutique": "Boutique", "web": "Website", "app": "App", "email": "Email", "sms": "SMS", "phone": "Phone",
    "messaging": "Messaging", "social": "Social", "event": "Event", "purchase": "Purchase", "stage": "Stage move",
    "advisor_task": "Advisor task", "feedback": "Feedback",
}


def channel_icon(channel: str) -> SafeString:
    """An inline SVG for a channel (or kind of entry), labelled for screen readers."""
    paths = _ICON_PATHS.get(channel, '<circle cx="12" cy="12" r="4"/>')
    label = _CHANNEL_LABELS.get(channel, channel.title())
    # Both parts are constants of this module, never user input.
    return mark_safe(
        f'<svg class="c360-icon" viewBox="0 0 24 24" role="img" aria-label="{label}" data-channel="{channel}" '
        f'fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round">'
        f"<title>{label}</title>{paths}</svg>"
    )


def staff_name(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@dataclass(frozen=True)
class TimelineRow:
    """One timeline entry as the page shows it."""

    kind: str
    channel: str
    icon: SafeString
    title: str
    occurred_at: dt.datetime
    detail: str = ""
    note: str = ""
    amount: str = ""
    who: str = ""
    badge: str = ""
    # The touchpoint type's code, for an interaction ("advisor_note"...).
    touchpoint_type: str = ""
    # An order's articles: "1 × Kelly 28, 2 × Carré 90".
    articles: str = ""


def _interaction_row(entry: TimelineEntry) -> TimelineRow:
    interaction = entry.item
    order = interaction.order
    title = interaction.touchpoint_type.name
    details = [interaction.boutique.name if interaction.boutique else "", SourceSystem(interaction.source).label]
    badge = ""
    if order is not None:
        title = f"{title} · order {order.external_id}"
        badge = order.get_status_display()
    purpose = (interaction.metadata or {}).get("purpose") if interaction.touchpoint_type.code == "appointment" else ""
    if purpose:  # an attended appointment (touchpoints.services.appointments) says what it was for
        title = f"{title} · {purpose}"
    return TimelineRow(
        kind="purchase" if order is not None else "interaction",
        channel=interaction.channel,
        icon=channel_icon(interaction.channel),
        title=title,
        occurred_at=entry.occurred_at,
        detail=" · ".join(part for part in details if part),
        note=str((interaction.metadata or {}).get("note", "")),
        amount=format_money(interaction.amount, interaction.currency),
        who=str(interaction.advisor) if interaction.advisor else "",
        badge=badge,
        touchpoint_type=interaction.touchpoint_type.code,
        articles=getattr(interaction, "order_articles", None) or "",
    )


def _transition_row(entry: TimelineEntry) -> TimelineRow:
    transition = entry.item
    journey = transition.enrollment.journey.name
    if transition.from_stage is None:
        title = f"{journey}: entered {transition.to_stage.name}"
    else:
        title = f"{journey}: {transition.from_stage.name} → {transition.to_stage.name}"
    detail = Transition.Cause(transition.cause).label
    if transition.rule is not None:
        detail = f"{detail} · {transition.rule.name}"
    return TimelineRow(
        kind="transition", channel="stage", icon=channel_icon("stage"), title=title, occurred_at=entry.occurred_at,
        detail=detail, note=transition.note, who=staff_name(transition.actor) or transition.actor_label,
    )


def _followup_row(entry: TimelineEntry) -> TimelineRow:
    followup = entry.item
    return TimelineRow(
        kind="followup", channel=followup.channel, icon=channel_icon(followup.channel),
        title=f"Follow-up: {followup.template.name}", occurred_at=entry.occurred_at,
        detail=" · ".join(part for part in (followup.get_channel_display(), followup.subject,
                                            followup.get_outcome_display()) if part),
        # What the advisor noted with the task's outcome; else why it was held out, postponed, cancelled or
        # failed: the dispatcher's reason, in its words.
        note=followup.outcome_note or followup.status_reason,
        who=str(followup.advisor) if followup.advisor else "",
        badge=FollowUp.Status(followup.status).label,
    )


def _response_row(entry: TimelineEntry) -> TimelineRow:
    response = entry.item
    return TimelineRow(
        kind="response", channel="feedback", icon=channel_icon("feedback"),
        title=f"{response.survey.name}: {response.score}", occurred_at=entry.occurred_at,
        detail=response.get_nps_class_display(), note=response.comment,
    )


TIMELINE_ROWS = {
    "interaction": _interaction_row,
    "transition": _transition_row,
    "followup": _followup_row,
    "response": _response_row,
}


def timeline_row(entry: TimelineEntry) -> TimelineRow:
    build = TIMELINE_ROWS.get(entry.kind)
    if build is None:  # a kind registered later, shown plainly until the page learns it
        return TimelineRow(kind=entry.kind, channel=entry.kind, icon=channel_icon(entry.kind),
                           title=str(entry.item), occurred_at=entry.occurred_at)
    return build(entry)


@dataclass
class QuickActions:
    """The quick actions the staff member may use on this client, with where each form posts."""

    log_url: str = ""
    move_url: str = ""
    assign_url: str = ""
    pause_url: str = ""
    resume_url: str = ""
    book_url: str = ""
    log_choices: tuple[tuple[str, str], ...] = LOG_CHOICES
    stages: list[Stage] = field(default_factory=list)
    advisors: list[Advisor] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.log_url or self.move_url or self.assign_url or self.pause_url or self.book_url)


@dataclass
class ClientPage:
    """Everything the client page shows above the edit form."""

    customer: Customer
    time_zone: str
    house_currency: str
    lifetime_value: str
    last_visit_at: dt.datetime | None
    consent: list[ConsentState]
    timeline: list[TimelineRow]
    # The notes advisors logged ("Note" quick action, the CRM's notes), newest first, from the timeline's first page.
    timeline_notes: list[TimelineRow]
    older_url: str
    newest_url: str
    journeys: list[JourneyStatus]
    # The advisor's pause on journey rules for this client, when one holds.
    hands_off: HandsOff | None
    # Values other systems proposed and Atelier did not apply (the golden record's rule), and where to settle them.
    open_conflicts: int
    conflicts_url: str
    preferences: list[tuple[str, list[str]]]
    history: list[HistoryEntry]
    actions: QuickActions
    # Foresight's card: the prediction in words, or None before the client's first purchase is scored.
    prediction: PredictionInWords | None = None
    # Booked appointments still to come (the timeline shows them once attended), and the form that books one.
    appointments: list[Appointment] = field(default_factory=list)
    appointment_form: AppointmentForm | None = None


class LogTouchpointForm(forms.Form):
    touchpoint_type = forms.ChoiceField(
        choices=LOG_CHOICES, error_messages={"required": "Choose a visit, a call or a note.",
                                             "invalid_choice": "Choose a visit, a call or a note."}
    )
    note = forms.CharField(required=False, strip=True)


class MoveStageForm(forms.Form):
    stage = forms.ModelChoiceField(
        queryset=Stage.objects.none(),
        error_messages={"required": "Choose the stage.", "invalid_choice": "Choose a stage of an active journey."},
    )
    # Required by the service (enrollment_place), which says so in the words every entry point uses.
    note = forms.CharField(required=False, strip=True)

    def __init__(self, *args: Any, stages: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = stages


class AssignAdvisorForm(forms.Form):
    advisor = forms.ModelChoiceField(
        queryset=Advisor.objects.none(),
        error_messages={"required": "Choose an advisor.",
                        "invalid_choice": "Choose an active advisor of the client's boutique."},
    )

    def __init__(self, *args: Any, advisors: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["advisor"].queryset = advisors


class PauseAutomationForm(forms.Form):
    until = forms.DateField(required=False, error_messages={"invalid": "Give the date as YYYY-MM-DD."})
    reason = forms.CharField(required=False, strip=True, max_length=240)


def form_error(form: forms.Form) -> str:
    return " ".join(message for errors in form.errors.values() for message in errors)


class ClientPageMixin:
    """Mixed into CustomerAdmin (desk.admin.customer): the client page's sections on the change form, and the
    quick actions' URLs under each client."""

    # The header reads these on every page: joined to the client's own query instead of one query each.
    client_page_related = ("home_boutique", "advisor__user", "persona")

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Customer | None:
        """As ModelAdmin.get_object (through the scoped get_queryset), with the header's relations joined."""
        queryset = self.get_queryset(request).select_related(*self.client_page_related).with_open_contact_conflicts()
        model = queryset.model
        lookup = model._meta.pk if from_field is None else model._meta.get_field(from_field)
        try:
            return queryset.get(**{lookup.name: lookup.to_python(object_id)})
        except (model.DoesNotExist, ValidationError, ValueError):
            return None

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        quick_actions = [
            path("<path:object_id>/log-touchpoint/", wrap(require_POST(self.log_touchpoint_view)),
                 name="{}_{}_log_touchpoint".format(*info)),
            path("<path:object_id>/move-stage/", wrap(require_POST(self.move_stage_view)),
                 name="{}_{}_move_stage".format(*info)),
            path("<path:object_id>/assign-advisor/", wrap(require_POST(self.assign_advisor_view)),
                 name="{}_{}_assign_advisor".format(*info)),
            path("<path:object_id>/pause-automation/", wrap(require_POST(self.pause_automation_view)),
                 name="{}_{}_pause_automation".format(*info)),
            path("<path:object_id>/book-appointment/", wrap(require_POST(self.book_appointment_view)),
                 name="{}_{}_book_appointment".format(*info)),
            path("<path:object_id>/resume-automation/", wrap(require_POST(self.resume_automation_view)),
                 name="{}_{}_resume_automation".format(*info)),
        ]
        # First: the admin's catch-all "<object_id>/" pattern would otherwise take these paths.
        return [*quick_actions, *super().get_urls()]

    def _page_url(self, name: str, customer: Customer) -> str:
        info = self.admin_site.name, self.opts.app_label, self.opts.model_name
        return reverse("{}:{}_{}_".format(*info) + name, args=[quote(customer.pk)])

    # --- The page ---------------------------------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Here rather than in change_view: this runs only when the page is drawn (not on a successful save), with
        # the client change_view already loaded.
        if change and obj is not None:
            context["client_page"] = self.client_page(request, obj)
            context["title"] = str(obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def client_page(self, request: HttpRequest, customer: Customer) -> ClientPage:
        user = request.user
        cursor = request.GET.get(TIMELINE_CURSOR) or None
        try:
            timeline = customer_timeline(customer=customer, cursor=cursor, limit=TIMELINE_PAGE_SIZE)
        except ApplicationError as error:
            messages.error(request, error.message)
            cursor, timeline = None, customer_timeline(customer=customer, limit=TIMELINE_PAGE_SIZE)
        page_url = self._page_url("change", customer)
        stages = movable_stages()
        actions = QuickActions()
        if user.has_perm("touchpoints.add_interaction"):
            actions.log_url = self._page_url("log_touchpoint", customer)
        if user.has_perm("journeys.change_enrollment"):
            actions.move_url, actions.stages = self._page_url("move_stage", customer), stages
        if user.has_perm("journeys.add_handsoff"):
            actions.pause_url = self._page_url("pause_automation", customer)
        if user.has_perm("journeys.change_handsoff"):
            actions.resume_url = self._page_url("resume_automation", customer)
        if self.has_change_permission(request, customer):
            actions.assign_url = self._page_url("assign_advisor", customer)
            actions.advisors = list(advisor_choices(customer=customer, user=user))
        appointment_form = None
        if user.has_perm("touchpoints.add_interaction") and customer.home_boutique_id:
            actions.book_url = self._page_url("book_appointment", customer)
            appointment_form = pending_form(request, customer, advisor_choices(customer=customer, user=user),
                                            customer.advisor)
        preferences = customer.preferences or {}
        rows = [timeline_row(entry) for entry in timeline.entries]
        time_zone = customer.home_boutique.timezone if customer.home_boutique else settings.TIME_ZONE
        return ClientPage(
            customer=customer,
            time_zone=time_zone,
            house_currency=settings.HOUSE_CURRENCY,
            lifetime_value=format_money(customer.lifetime_value, settings.HOUSE_CURRENCY),
            last_visit_at=client_last_visit_at(customer=customer),
            consent=client_consent(customer=customer),
            timeline=rows,
            timeline_notes=[row for row in rows if row.touchpoint_type == "advisor_note" and row.note] if not cursor
            else [],
            older_url=f"{page_url}?{TIMELINE_CURSOR}={timeline.next_cursor}#timeline" if timeline.next_cursor else "",
            newest_url=f"{page_url}#timeline" if cursor else "",
            journeys=client_journeys(customer=customer, now=timezone.now(), stages=stages),
            hands_off=hands_off_in_force(customer=customer, at=timezone.now()),
            # Counted in the client's own query (get_object); a client loaded some other way counts them apart.
            open_conflicts=customer.open_contact_conflicts if hasattr(customer, "open_contact_conflicts")
            else client_open_contact_conflicts(customer=customer),
            conflicts_url=f"{reverse('admin:customers_contactconflict_changelist')}?customer={customer.pk}"
            "&status__exact=open",
            preferences=[(label, list(preferences.get(key) or [])) for key, label in PREFERENCE_LABELS],
            history=customer_history(customer=customer),
            actions=actions,
            # "Days since the last purchase" counts on the client's boutique calendar, as the page's times do.
            prediction=client_prediction_words(
                customer=customer, today=timezone.now().astimezone(zoneinfo.ZoneInfo(time_zone)).date()
            ),
            appointments=client_upcoming_appointments(customer=customer, now=timezone.now()),
            appointment_form=appointment_form,
        )

    # --- Quick actions ----------------------------------------------------------------------------------------

    def _client_for_action(self, request: HttpRequest, object_id: str, permission: str) -> Customer:
        """The client of a quick action, through the scoped queryset: another boutique's client is not found."""
        if not request.user.has_perm(permission):
            raise PermissionDenied
        customer = self.get_object(request, unquote(object_id))
        if customer is None:
            raise Http404("No such client.")
        return customer

    def _back_to_page(self, customer: Customer, section: str) -> HttpResponseRedirect:
        return HttpResponseRedirect(f"{self._page_url('change', customer)}#{section}")

    def log_touchpoint_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        customer = self._client_for_action(request, object_id, "touchpoints.add_interaction")
        form = LogTouchpointForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_error(form))
            return self._back_to_page(customer, "quick-actions")
        try:
            interaction = interaction_log(
                customer=customer, touchpoint_type=form.cleaned_data["touchpoint_type"],
                note=form.cleaned_data["note"], actor=request.user,
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return self._back_to_page(customer, "quick-actions")
        messages.success(request, f"{interaction.touchpoint_type.name} logged on {customer}'s timeline.")
        return self._back_to_page(customer, "timeline")

    def book_appointment_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        # Booking is part of logging the client's touchpoints: the same permission, no new role grant.
        customer = self._client_for_action(request, object_id, "touchpoints.add_interaction")
        appointment = book_from_form(request, customer, advisor_choices(customer=customer, user=request.user))
        if appointment is None:
            messages.error(request, "The appointment was not booked: see the form.")
            return self._back_to_page(customer, "appointments")
        messages.success(request, f"Appointment booked for {customer}.")
        return self._back_to_page(customer, "appointments")

    def move_stage_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        customer = self._client_for_action(request, object_id, "journeys.change_enrollment")
        form = MoveStageForm(request.POST, stages=stages_of_active_journeys())
        if not form.is_valid():
            messages.error(request, form_error(form))
            return self._back_to_page(customer, "quick-actions")
        stage = form.cleaned_data["stage"]
        try:
            enrollment_place(customer=customer, to_stage=stage, actor=request.user, note=form.cleaned_data["note"])
        except ApplicationError as error:
            messages.error(request, error.message)
            return self._back_to_page(customer, "quick-actions")
        messages.success(request, f"{customer} is now in {stage.journey.name}: {stage.name}.")
        return self._back_to_page(customer, "journeys")

    def pause_automation_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        """Hands-off: journey rules leave the client alone until the date given (the end of that day in the
        client's boutique's time zone), or until resumed."""
        customer = self._client_for_action(request, object_id, "journeys.add_handsoff")
        form = PauseAutomationForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_error(form))
            return self._back_to_page(customer, "journeys")
        until_date = form.cleaned_data["until"]
        until = None
        if until_date is not None:
            zone = zoneinfo.ZoneInfo(customer.home_boutique.timezone if customer.home_boutique else settings.TIME_ZONE)
            until = dt.datetime.combine(until_date, dt.time.max, tzinfo=zone)
        try:
            hands_off_set(customer=customer, actor=request.user, until=until, reason=form.cleaned_data["reason"])
        except ApplicationError as error:
            messages.error(request, error.message)
            return self._back_to_page(customer, "journeys")
        messages.success(request, f"Automation paused for {customer}" + (f" until {until_date:%d %b %Y}." if until
                                                                         else " until resumed."))
        return self._back_to_page(customer, "journeys")

    def resume_automation_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        customer = self._client_for_action(request, object_id, "journeys.change_handsoff")
        if hands_off_lift(customer=customer, actor=request.user):
            messages.success(request, f"Automation resumed for {customer}.")
        else:
            messages.info(request, f"Automation was not paused for {customer}.")
        return self._back_to_page(customer, "journeys")

    def assign_advisor_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        customer = self._client_for_action(request, object_id, "customers.change_customer")
        form = AssignAdvisorForm(request.POST, advisors=advisor_choices(customer=customer, user=request.user))
        if not form.is_valid():
            messages.error(request, form_error(form))
            return self._back_to_page(customer, "quick-actions")
        advisor = form.cleaned_data["advisor"]
        try:
            changed = customers_assign_advisor(
                customers=Customer.objects.filter(pk=customer.pk), advisor=advisor, actor=request.user
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return self._back_to_page(customer, "quick-actions")
        if changed:
            messages.success(request, f"{advisor} is now {customer}'s advisor.")
        else:
            messages.info(request, f"{advisor} already is {customer}'s advisor.")
        return self._back_to_page(customer, "client-header")
