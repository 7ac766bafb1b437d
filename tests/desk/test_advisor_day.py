"""The advisor's day: the landing page of advisors and boutique managers, in their boutique's time zone."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Advisor, Customer, SourceSystem
from customers.services import customer_upsert
from desk.day import advisor_day
from desk.services import client_erase
from feedback.models import Response, Survey
from journeys.models import FollowUp, FollowUpTemplate
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.models import Appointment
from touchpoints.services import OrderLineData, interaction_record, order_record
from touchpoints.services.appointments import appointment_book, appointment_cancel

pytestmark = pytest.mark.django_db

PARIS_TIME = zoneinfo.ZoneInfo("Europe/Paris")
TOKYO_TIME = zoneinfo.ZoneInfo("Asia/Tokyo")
_numbers = itertools.count(1)


def paris_time(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS_TIME)


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR", timezone="Europe/Paris")


@pytest.fixture
def tokyo():
    return BoutiqueFactory(code="TYO", name="Tokyo Ginza", country="JP", currency="JPY", timezone="Asia/Tokyo")


@pytest.fixture
def advisor(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="camille")


@pytest.fixture
def colleague(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="louise")


@pytest.fixture
def manager(paris):
    return make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene")


@pytest.fixture
def tokyo_advisor(tokyo):
    return make_staff(Advisor.Role.ADVISOR, tokyo, username="haruto")


@pytest.fixture
def task_template():
    return FollowUpTemplate.objects.create(name="Call the client", channel=FollowUpTemplate.Channel.ADVISOR_TASK)


@pytest.fixture
def survey():
    return Survey.objects.create(name="After a visit", kind=Survey.Kind.NPS, question="Would you recommend us?")


def client_of(user, *, first_name: str = "Client", **fields) -> Customer:
    """A client of `user`'s book (their boutique, them as advisor), through the real upsert."""
    number = next(_numbers)
    return customer_upsert(
        source=SourceSystem.POS,
        external_id=f"C-{number}",
        email=f"client{number}@example.com",
        first_name=first_name,
        last_name=f"Number{number}",
        home_boutique=user.advisor.boutique,
        advisor=user.advisor,
        **fields,
    ).customer


def task(customer: Customer, template: FollowUpTemplate, due_at: dt.datetime, *, advisor=None, **fields) -> FollowUp:
    # No follow-up service exists yet (the rules engine is its own piece of work): rows as the dispatcher leaves them.
    fields.setdefault("channel", template.channel)
    return FollowUp.objects.create(
        customer=customer,
        template=template,
        due_at=due_at,
        advisor=advisor if advisor is not None else customer.advisor,
        subject="Call about the fitting",
        idempotency_key=f"test:{next(_numbers)}",
        **fields,
    )


def purchase(customer: Customer, *, placed_at: dt.datetime, total: str) -> None:
    order_record(
        source=SourceSystem.POS,
        external_id=f"O-{next(_numbers)}",
        customer=customer,
        placed_at=placed_at,
        currency="EUR",
        total=total,
        lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price=total)],
        boutique=customer.home_boutique,
        advisor=customer.advisor,
    )


def booked_today(customer: Customer, user, *, at: dt.time = dt.time(18), advisor=None,
                 day: dt.date | None = None) -> Appointment:
    """An appointment at `at` on the boutique's clock today (or on `day`), booked at the start of that day."""
    zone = zoneinfo.ZoneInfo(customer.home_boutique.timezone)
    day = day or timezone.now().astimezone(zone).date()
    return appointment_book(customer=customer, day=day, time=at, purpose="Fitting", actor=user,
                            advisor=advisor or user.advisor, now=dt.datetime.combine(day, dt.time.min, tzinfo=zone))


def answer(customer: Customer, survey: Survey, *, responded_at: dt.datetime, score: int = 9) -> Response:
    return Response.objects.create(
        survey=survey,
        customer=customer,
        score=score,
        nps_class=Response.NpsClass.PROMOTER if score >= 9 else Response.NpsClass.DETRACTOR,
        comment="Lovely fitting",
        responded_at=responded_at,
    )


# --- tasks ----------------------------------------------------------------------------------------------------------


def test_an_advisor_sees_their_scheduled_tasks_due_today_and_overdue_oldest_first(advisor, colleague, task_template):
    # Given an advisor's tasks on Wednesday 11 March 2026 at 10:00 in Paris, and tasks that are not theirs to do today
    now = paris_time(2026, 3, 11, 10)
    client = client_of(advisor)
    overdue = task(client, task_template, paris_time(2026, 3, 9, 9))
    this_morning = task(client, task_template, paris_time(2026, 3, 11, 0, 5))
    tonight = task(client, task_template, paris_time(2026, 3, 11, 23, 55))
    task(client, task_template, paris_time(2026, 3, 12, 0, 0))  # tomorrow
    task(client, task_template, paris_time(2026, 3, 9, 9), status=FollowUp.Status.DONE)
    task(client, task_template, paris_time(2026, 3, 9, 9), status=FollowUp.Status.CANCELLED)
    task(client, task_template, paris_time(2026, 3, 9, 9), channel=FollowUpTemplate.Channel.EMAIL)
    task(client_of(colleague), task_template, paris_time(2026, 3, 10, 9))

    # When the advisor's day is read
    day = advisor_day(user=advisor, now=now)

    # Then only their open advisor tasks due by tonight are listed, oldest first, the overdue one marked
    assert day.today == dt.date(2026, 3, 11)
    assert day.is_boutique_wide is False
    assert [(item.pk, item.is_overdue) for item in day.tasks] == [
        (overdue.pk, True),
        (this_morning.pk, False),
        (tonight.pk, False),
    ]


def test_today_is_the_boutique_s_day_not_the_server_s(advisor, tokyo_advisor, task_template):
    # Given 23:30 UTC on 10 March: already 11 March in Paris (00:30) and in Tokyo (08:30)
    now = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    paris_tonight = task(client_of(advisor), task_template, paris_time(2026, 3, 11, 20))
    tokyo_client = client_of(tokyo_advisor)
    tokyo_tonight = task(tokyo_client, task_template, dt.datetime(2026, 3, 11, 22, tzinfo=TOKYO_TIME))
    # 15:30 UTC on 11 March, but already 12 March in Tokyo: tomorrow there.
    task(tokyo_client, task_template, dt.datetime(2026, 3, 12, 0, 30, tzinfo=TOKYO_TIME))

    # When each advisor's day is read at that moment
    paris_day = advisor_day(user=advisor, now=now)
    tokyo_day = advisor_day(user=tokyo_advisor, now=now)

    # Then each counts today in their boutique's time zone
    assert (paris_day.today, [item.pk for item in paris_day.tasks]) == (dt.date(2026, 3, 11), [paris_tonight.pk])
    assert (tokyo_day.today, [item.pk for item in tokyo_day.tasks]) == (dt.date(2026, 3, 11), [tokyo_tonight.pk])


# --- birthdays -----------------------------------------------------------------------------------------------------


def test_birthdays_of_this_week_run_across_the_new_year_in_the_order_of_the_week(advisor, colleague):
    # Given Thursday 31 December 2026: the week runs from Monday 28 December 2026 to Sunday 3 January 2027
    now = paris_time(2026, 12, 31, 10)
    monday = client_of(advisor, birth_date=dt.date(1980, 12, 28))
    sunday = client_of(advisor, birth_date=dt.date(1990, 1, 3))
    today = client_of(advisor, birth_date=dt.date(1975, 12, 31))
    client_of(advisor, birth_date=dt.date(1985, 1, 4))  # next Monday
    client_of(advisor, birth_date=dt.date(1970, 12, 27))  # last Sunday
    client_of(advisor)  # no birth date known
    client_of(colleague, birth_date=dt.date(1982, 12, 30))  # not in this advisor's book

    # When the advisor's day is read
    day = advisor_day(user=advisor, now=now)

    # Then the three birthdays of the week are listed by day, with the age each client turns
    assert day.week == [dt.date(2026, 12, 28) + dt.timedelta(days=offset) for offset in range(7)]
    assert [(item.customer.pk, item.day, item.age) for item in day.birthdays] == [
        (monday.pk, dt.date(2026, 12, 28), 46),
        (today.pk, dt.date(2026, 12, 31), 51),
        (sunday.pk, dt.date(2027, 1, 3), 37),
    ]


def test_a_29_february_birthday_is_celebrated_on_the_28th_in_a_common_year(advisor):
    # Given a client born on 29 February 1988 and the week of 22 to 28 February 2027 (2027 is a common year)
    leapling = client_of(advisor, birth_date=dt.date(1988, 2, 29))
    client_of(advisor, birth_date=dt.date(1990, 3, 1))

    # When the advisor's day is read on Wednesday 24 February 2027
    day = advisor_day(user=advisor, now=paris_time(2027, 2, 24, 10))

    # Then the client's birthday is on Sunday the 28th
    assert [(item.customer.pk, item.day, item.age) for item in day.birthdays] == [
        (leapling.pk, dt.date(2027, 2, 28), 39)
    ]


def test_a_29_february_birthday_is_on_the_29th_in_a_leap_year_and_not_the_week_before(advisor):
    # Given a client born on 29 February 1988, and 2028, a leap year
    leapling = client_of(advisor, birth_date=dt.date(1988, 2, 29))

    # When the day is read in the week of 21 to 27 February 2028, then in the week of 28 February to 5 March
    week_before = advisor_day(user=advisor, now=paris_time(2028, 2, 23, 10))
    week_of = advisor_day(user=advisor, now=paris_time(2028, 3, 2, 10))

    # Then the birthday is only in the week holding 29 February, on that day
    assert week_before.birthdays == []
    assert [(item.customer.pk, item.day, item.age) for item in week_of.birthdays] == [
        (leapling.pk, dt.date(2028, 2, 29), 40)
    ]


# --- top clients gone quiet ----------------------------------------------------------------------------------------


def test_top_clients_with_no_visit_or_purchase_for_90_days_come_by_lifetime_value(advisor, colleague):
    # Given the advisor's buyers: two quiet for over 90 days, one who visited lately, one who bought lately
    now = timezone.now()
    long_ago = now - dt.timedelta(days=120)
    quiet_smaller = client_of(advisor)
    purchase(quiet_smaller, placed_at=long_ago, total="5000.00")
    quiet_bigger = client_of(advisor)
    purchase(quiet_bigger, placed_at=now - dt.timedelta(days=200), total="9000.00")
    visited = client_of(advisor)
    purchase(visited, placed_at=long_ago, total="20000.00")
    interaction_record(
        customer=visited,
        touchpoint_type="store_visit",
        occurred_at=now - dt.timedelta(days=10),
        source=SourceSystem.POS,
    )
    bought = client_of(advisor)
    purchase(bought, placed_at=now - dt.timedelta(days=30), total="30000.00")
    client_of(advisor)  # a prospect: never bought, so not a top client
    purchase(client_of(colleague), placed_at=long_ago, total="50000.00")

    # When the advisor's day is read
    day = advisor_day(user=advisor, now=now)

    # Then the two quiet buyers are listed, the more valuable first
    assert [(client.pk, client.lifetime_value) for client in day.quiet_top_clients] == [
        (quiet_bigger.pk, Decimal("9000.00")),
        (quiet_smaller.pk, Decimal("5000.00")),
    ]


def test_an_erased_client_leaves_the_day(advisor, manager, survey):
    # Given a quiet buyer who answered a survey yesterday, then had their personal data erased
    now = timezone.now()
    client = client_of(advisor)
    purchase(client, placed_at=now - dt.timedelta(days=120), total="9000.00")
    answer(client, survey, responded_at=now - dt.timedelta(days=1))
    client_erase(customer=client, actor=manager)

    # When the advisor's and the manager's days are read
    days = [advisor_day(user=advisor, now=now), advisor_day(user=manager, now=now)]

    # Then the anonymous record shows on neither, though its value and its score are kept
    assert [(day.quiet_top_clients, day.recent_feedback) for day in days] == [([], []), ([], [])]
    assert Customer.objects.get(pk=client.pk).lifetime_value == Decimal("9000.00")


# --- feedback ------------------------------------------------------------------------------------------------------


def test_feedback_of_the_last_14_days_from_their_clients_comes_newest_first(advisor, colleague, survey):
    # Given answers from the advisor's clients yesterday, 13 days ago and 15 days ago, and one from a colleague's
    now = timezone.now()
    client = client_of(advisor)
    yesterday = answer(client, survey, responded_at=now - dt.timedelta(days=1))
    two_weeks = answer(client_of(advisor), survey, responded_at=now - dt.timedelta(days=13), score=3)
    answer(client, survey, responded_at=now - dt.timedelta(days=15))
    answer(client_of(colleague), survey, responded_at=now - dt.timedelta(days=1))

    # When the advisor's day is read
    day = advisor_day(user=advisor, now=now)

    # Then the two recent answers of their clients are listed, newest first
    assert [(item.pk, item.score) for item in day.recent_feedback] == [(yesterday.pk, 9), (two_weeks.pk, 3)]


# --- who sees which day --------------------------------------------------------------------------------------------


def test_a_boutique_manager_sees_the_day_of_the_whole_boutique_and_no_other(
    advisor, colleague, manager, tokyo_advisor, task_template
):
    # Given tasks due today for two advisors of Paris, one unassigned in Paris, and one in Tokyo
    now = paris_time(2026, 3, 11, 10)
    mine = task(client_of(advisor), task_template, paris_time(2026, 3, 11, 9))
    theirs = task(client_of(colleague), task_template, paris_time(2026, 3, 11, 11))
    unassigned = client_of(advisor)
    nobody = task(unassigned, task_template, paris_time(2026, 3, 11, 12))
    FollowUp.objects.filter(pk=nobody.pk).update(advisor=None)
    task(client_of(tokyo_advisor), task_template, paris_time(2026, 3, 11, 9))

    # When the manager's day is read
    day = advisor_day(user=manager, now=now)

    # Then every task of the Paris boutique is listed, unassigned included, and none from Tokyo
    assert day.is_boutique_wide is True
    assert [item.pk for item in day.tasks] == [mine.pk, theirs.pk, nobody.pk]


def test_head_office_and_superusers_land_on_the_house_not_a_day(client, paris, admin_user):
    # Issue 17: head office landed on the stock app index; it lands on the house now (tests/desk/test_landing_pages.py)
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="anne")
    for user in (head_office, admin_user):
        # Given head office or a superuser logged in
        client.force_login(user)

        # When they open the admin
        response = client.get(reverse("admin:index"))

        # Then they see the house above the index's apps, and no day
        assert response.status_code == 200
        assert response.context["day"] is None
        assert response.context["title"] == "The house"
        assert [row.boutique for row in response.context["house"]] == [paris]
        assert "customers" in [app["app_label"] for app in response.context["app_list"]]
        assert b'id="advisor-day"' not in response.content


def test_every_role_finds_a_client_from_its_landing_page(client, advisor, paris):
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="anne")
    list_url = reverse("admin:customers_customer_changelist")
    for user in (advisor, head_office):
        client.force_login(user)

        content = client.get(reverse("admin:index")).content.decode()

        start = content.index('id="client-search"')
        form = content[start - 60:content.index("</form>", start)]
        assert f'action="{list_url}"' in form
        assert 'name="q"' in form


def test_an_advisor_lands_on_their_day_above_the_apps_with_each_client_linked(
    client, advisor, task_template, survey
):
    # Given an advisor with a task due now, a birthday today, a quiet top client and a recent answer
    now = timezone.now()
    with_task = client_of(advisor, first_name="Tasked")
    task(with_task, task_template, now - dt.timedelta(minutes=5))
    today = now.astimezone(PARIS_TIME).date()
    birthday = client_of(advisor, first_name="Birthday", birth_date=today.replace(year=1980))
    quiet = client_of(advisor, first_name="Quiet")
    purchase(quiet, placed_at=now - dt.timedelta(days=120), total="9000.00")
    answered = client_of(advisor, first_name="Answered")
    answer(answered, survey, responded_at=now - dt.timedelta(days=1))
    client.force_login(advisor)

    # When they open the admin
    response = client.get(reverse("admin:index"))

    # Then their day comes first, each item linking to the client page, and the apps follow
    assert response.status_code == 200
    assert response.context["title"] == "Your day"
    content = response.content.decode()
    for customer in (with_task, birthday, quiet, answered):
        assert f'href="{reverse("admin:customers_customer_change", args=[customer.pk])}"' in content
    assert "customers" in [app["app_label"] for app in response.context["app_list"]]
    assert content.index('id="advisor-day"') < content.index('class="app-customers')


def test_the_day_costs_the_same_queries_for_one_item_of_each_kind_as_for_fifteen(
    client, paris, task_template, survey
):
    now = timezone.now()
    today = now.astimezone(PARIS_TIME).date()

    def advisor_with(items: int):
        user = make_staff(Advisor.Role.ADVISOR, paris)
        for _ in range(items):
            task(client_of(user), task_template, now - dt.timedelta(minutes=5))
            client_of(user, birth_date=today.replace(year=1980))
            purchase(client_of(user), placed_at=now - dt.timedelta(days=120), total="9000.00")
            answer(client_of(user), survey, responded_at=now - dt.timedelta(days=1))
            booked_today(client_of(user), user)
        return user

    def queries_of_the_day(user) -> tuple[int, object]:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("admin:index"))
        assert response.status_code == 200
        return len(queries), response.context["day"]

    # Given one advisor with one item of each kind, another with fifteen of each
    one, fifteen = advisor_with(1), advisor_with(15)

    # When each opens the admin
    one_count, one_day = queries_of_the_day(one)
    fifteen_count, fifteen_day = queries_of_the_day(fifteen)

    # Then both pages cost the same queries (the quiet top clients stop at ten): the session (read, then saved in a
    # savepoint, as SESSION_SAVE_EVERY_REQUEST asks), the user, the advisor, their scope, the five lists, the
    # user's and their groups' permissions (the app list), the recent actions, the clients at risk (foresight), and
    # today's appointments (one query, 17 with it)
    lengths = [
        (len(day.tasks), len(day.birthdays), len(day.quiet_top_clients), len(day.recent_feedback),
         len(day.appointments))
        for day in (one_day, fifteen_day)
    ]
    assert lengths == [(1, 1, 1, 1, 1), (15, 15, 10, 15, 15)]
    assert one_count == fifteen_count == 17


# --- appointments --------------------------------------------------------------------------------------------------


def test_today_s_appointments_are_on_the_advisor_s_day_on_the_boutique_clock(advisor, colleague, manager,
                                                                              tokyo_advisor):
    # Given 23:30 UTC on 10 March: 11 March in Paris and in Tokyo
    now = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    march_11 = dt.date(2026, 3, 11)
    claire = client_of(advisor)
    late = booked_today(claire, advisor, at=dt.time(18), day=march_11)
    early = booked_today(claire, advisor, at=dt.time(9, 30), day=march_11)
    booked_today(claire, advisor, at=dt.time(9), day=dt.date(2026, 3, 12))  # tomorrow
    appointment_cancel(appointment=booked_today(claire, advisor, at=dt.time(11), day=march_11), actor=advisor)
    louise = booked_today(client_of(colleague), colleague, at=dt.time(10), day=march_11)
    tokyo = booked_today(client_of(tokyo_advisor), tokyo_advisor, at=dt.time(10), day=march_11)

    # When the days are read at that moment
    days = {user: advisor_day(user=user, now=now) for user in (advisor, manager, tokyo_advisor)}

    # Then each lists today's booked appointments, earliest first: the advisor's own, the manager the boutique's
    # (the cancelled one and tomorrow's on no day), and Tokyo's at 10:00 there, 01:00 UTC
    assert [item.pk for item in days[advisor].appointments] == [early.pk, late.pk]
    assert [item.pk for item in days[manager].appointments] == [early.pk, louise.pk, late.pk]
    assert [item.pk for item in days[tokyo_advisor].appointments] == [tokyo.pk]
    assert tokyo.starts_at == dt.datetime(2026, 3, 11, 1, tzinfo=dt.UTC)


def test_the_day_page_shows_today_s_appointments_on_the_boutique_clock(client, tokyo_advisor):
    appointment = booked_today(client_of(tokyo_advisor, first_name="Yui"), tokyo_advisor, at=dt.time(10))
    client.force_login(tokyo_advisor)

    content = client.get(reverse("admin:index")).content.decode()

    section = content[content.index('id="day-appointments"'):content.index('id="day-birthdays"')]
    assert f'data-appointment="{appointment.pk}"' in section
    assert "10:00–11:00" in section
    assert "Fitting" in section
    assert "Appointments today <span class=\"count\">1</span>" in section
