"""Each role's landing page (issue 17): the manager's boutique day with the team's tasks, head office's house, the
day pages they open from there (404 out of reach), and no link on a landing page that leads to a 403, 404 or 500."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Advisor
from desk.house import house_boutiques
from journeys.models import FollowUp
from tests.desk.test_advisor_day import PARIS_TIME, TOKYO_TIME, client_of, task
from tests.factories import BoutiqueFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", city="Paris", country="FR", timezone="Europe/Paris")


@pytest.fixture
def tokyo():
    return BoutiqueFactory(code="TYO", name="Tokyo Ginza", city="Tokyo", country="JP", currency="JPY",
                           timezone="Asia/Tokyo")


@pytest.fixture
def staff(paris, tokyo):
    return {
        "camille": make_staff(Advisor.Role.ADVISOR, paris, username="camille"),
        "louise": make_staff(Advisor.Role.ADVISOR, paris, username="louise"),
        "helene": make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene"),
        "haruto": make_staff(Advisor.Role.ADVISOR, tokyo, username="haruto"),
        "kenji": make_staff(Advisor.Role.BOUTIQUE_MANAGER, tokyo, username="kenji"),
        "anne": make_staff(Advisor.Role.HEAD_OFFICE, username="anne"),
    }


@pytest.fixture
def template():
    from journeys.models import FollowUpTemplate

    return FollowUpTemplate.objects.create(name="Call the client", channel=FollowUpTemplate.Channel.ADVISOR_TASK)


def _today_at(zone, hour: int, *, days: int = 0) -> dt.datetime:
    today = timezone.now().astimezone(zone).date() + dt.timedelta(days=days)
    return dt.datetime.combine(today, dt.time(hour), tzinfo=zone)


@pytest.fixture
def tasks(staff, template):
    """Camille: one overdue, one due today, one next week; Louise: one due today; one unassigned overdue; Tokyo:
    one overdue for Haruto."""
    camille, louise, haruto = staff["camille"], staff["louise"], staff["haruto"]
    made = {
        "camille_overdue": task(client_of(camille), template, _today_at(PARIS_TIME, 9, days=-2)),
        "camille_today": task(client_of(camille), template, _today_at(PARIS_TIME, 23)),
        "camille_later": task(client_of(camille), template, _today_at(PARIS_TIME, 10, days=7)),
        "louise_today": task(client_of(louise), template, _today_at(PARIS_TIME, 23)),
        "nobody_overdue": task(client_of(camille), template, _today_at(PARIS_TIME, 9, days=-1)),
        "haruto_overdue": task(client_of(haruto), template, _today_at(TOKYO_TIME, 9, days=-1)),
    }
    FollowUp.objects.filter(pk=made["nobody_overdue"].pk).update(advisor=None)
    return made


def test_a_manager_lands_on_the_boutique_s_day_with_each_advisor_s_open_and_overdue_tasks(client, staff, tasks):
    # Given a manager of Paris, whose advisors have tasks open, due today and overdue
    client.force_login(staff["helene"])

    # When they open the admin
    response = client.get(reverse("admin:index"))

    # Then the team table lists each advisor of Paris (by name) with their counts, the unassigned ones last, and
    # links each advisor to their day; nobody from Tokyo is in it
    assert response.status_code == 200
    assert response.context["title"] == "Your boutique's day"
    rows = [(str(member.advisor) if member.advisor else None, member.open_tasks, member.due_today, member.overdue)
            for member in response.context["team"]]
    counts = {"camille": (3, 1, 1), "louise": (1, 1, 0), "helene": (0, 0, 0)}
    by_name = sorted(counts, key=lambda name: (staff[name].last_name, staff[name].first_name))
    assert rows == [*((str(staff[name].advisor), *counts[name]) for name in by_name), (None, 1, 0, 1)]
    content = response.content.decode()
    assert 'id="day-team"' in content
    assert reverse("admin:desk_advisor_day", args=[staff["camille"].advisor.pk]) in content
    assert str(staff["haruto"].advisor) not in content


def test_an_advisor_s_landing_page_has_no_team_table(client, staff, tasks):
    client.force_login(staff["camille"])

    response = client.get(reverse("admin:index"))

    assert response.context["title"] == "Your day"
    assert "team" not in response.context
    assert b'id="day-team"' not in response.content


def test_head_office_lands_on_the_house_with_each_boutique_s_figures(client, staff, tasks, paris, tokyo):
    # Given head office, and tasks in Paris and Tokyo
    client.force_login(staff["anne"])

    # When they open the admin
    response = client.get(reverse("admin:index"))

    # Then the house lists both boutiques by name, with their clients, staff, open and overdue tasks, each linking
    # to the boutique's day
    assert response.status_code == 200
    assert response.context["title"] == "The house"
    figures = [(row.boutique.code, row.clients, row.advisors, row.open_tasks, row.overdue, row.open_recovery_cases)
               for row in response.context["house"]]
    assert figures == [("PAR", 5, 3, 5, 2, 0), ("TYO", 1, 2, 1, 1, 0)]
    content = response.content.decode()
    assert 'id="house"' in content
    for boutique in (paris, tokyo):
        assert f'href="{reverse("admin:desk_boutique_day", args=[boutique.pk])}"' in content


def test_overdue_on_the_house_is_each_boutique_s_own_clock(staff, template):
    # Given, at 00:45 on 11 March in Paris (08:45 in Tokyo), tasks either side of each boutique's midnight
    now = dt.datetime(2026, 3, 11, 0, 45, tzinfo=PARIS_TIME)
    for zone, user in ((PARIS_TIME, staff["camille"]), (TOKYO_TIME, staff["haruto"])):
        task(client_of(user), template, dt.datetime(2026, 3, 10, 23, 30, tzinfo=zone))  # yesterday there: overdue
        task(client_of(user), template, dt.datetime(2026, 3, 11, 0, 30, tzinfo=zone))  # today there: not yet

    # When head office reads the house
    rows = {row.boutique.code: (row.open_tasks, row.overdue) for row in house_boutiques(user=staff["anne"], now=now)}

    # Then each boutique has one overdue task of two (on one clock, Tokyo's two would both be overdue in Paris)
    assert rows == {"PAR": (2, 1), "TYO": (2, 1)}


@pytest.mark.parametrize(
    ("viewer", "day", "status"),
    [
        ("camille", "camille", 200),  # their own day
        ("camille", "louise", 404),  # a colleague's
        ("camille", "haruto", 404),  # another boutique's advisor
        ("helene", "camille", 200),  # a manager, an advisor of their boutique
        ("helene", "helene", 200),
        ("helene", "haruto", 404),  # a manager, another boutique
        ("kenji", "camille", 404),
        ("anne", "camille", 200),  # head office, any advisor
        ("anne", "haruto", 200),
        ("anne", "anne", 404),  # head office has no day of its own
    ],
)
def test_an_advisor_s_day_out_of_reach_is_a_404(client, staff, tasks, viewer, day, status):
    client.force_login(staff[viewer])

    response = client.get(reverse("admin:desk_advisor_day", args=[staff[day].advisor.pk]))

    assert response.status_code == status
    if status == 200:
        assert response.context["day"].advisor == staff[day].advisor
        assert response.context["day"].is_boutique_wide is False


@pytest.mark.parametrize(
    ("viewer", "boutique", "status"),
    [
        ("helene", "paris", 200),
        ("helene", "tokyo", 404),
        ("camille", "paris", 404),  # an advisor has their book, not the boutique's day
        ("anne", "paris", 200),
        ("anne", "tokyo", 200),
    ],
)
def test_a_boutique_s_day_out_of_reach_is_a_404(client, staff, tasks, paris, tokyo, viewer, boutique, status):
    boutiques = {"paris": paris, "tokyo": tokyo}
    client.force_login(staff[viewer])

    response = client.get(reverse("admin:desk_boutique_day", args=[boutiques[boutique].pk]))

    assert response.status_code == status


def test_unknown_days_are_404s(client, staff):
    client.force_login(staff["anne"])

    assert client.get(reverse("admin:desk_advisor_day", args=[999_999])).status_code == 404
    assert client.get(reverse("admin:desk_boutique_day", args=[999_999])).status_code == 404


def test_head_office_sees_a_boutique_s_tasks_without_the_buttons_and_only_that_boutique(client, staff, tasks, tokyo):
    # Given head office opening Tokyo's day
    client.force_login(staff["anne"])

    response = client.get(reverse("admin:desk_boutique_day", args=[tokyo.pk]))

    # Then it shows Tokyo's tasks only (head office sees every client; the day is the boutique's), and no outcome
    # buttons: closing a task is for the boutique's staff
    day = response.context["day"]
    assert [item.pk for item in day.tasks] == [tasks["haruto_overdue"].pk]
    assert sorted((member.advisor.user.username, member.overdue) for member in response.context["team"]) == [
        ("haruto", 1), ("kenji", 0)]
    assert b"desk_task_outcome" not in response.content
    assert reverse("admin:desk_task_outcome", args=[tasks["haruto_overdue"].pk]).encode() not in response.content


def test_a_manager_on_an_advisor_s_day_sees_that_advisor_s_tasks_with_the_buttons(client, staff, tasks):
    client.force_login(staff["helene"])

    response = client.get(reverse("admin:desk_advisor_day", args=[staff["louise"].advisor.pk]))

    assert [item.pk for item in response.context["day"].tasks] == [tasks["louise_today"].pk]
    assert reverse("admin:desk_task_outcome", args=[tasks["louise_today"].pk]).encode() in response.content


# --- every link on each landing page ------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _internal_links(content: str) -> list[str]:
    parser = _Links()
    parser.feed(content)
    links = []
    for href in parser.hrefs:
        address, _fragment = urldefrag(href)
        parts = urlsplit(address)
        if not address or parts.scheme in ("mailto", "tel", "https", "http") or parts.netloc:
            continue
        links.append(address)
    return sorted(set(links))


@pytest.mark.parametrize("role", ["camille", "helene", "anne"])
def test_no_link_on_a_role_s_landing_page_leads_to_a_403_a_404_or_a_500(client, staff, tasks, role):
    # Given each role logged in, with tasks, clients and boutiques to link to
    client.force_login(staff[role])
    landing = client.get(reverse("admin:index"))
    assert landing.status_code == 200
    links = _internal_links(landing.content.decode())
    assert len(links) > 10  # the day's or the house's links, and the apps'

    # When every link on the landing page is followed
    broken = {}
    for link in links:
        response = client.get(link, follow=True)
        if response.status_code in (403, 404) or response.status_code >= 500:
            broken[link] = response.status_code

    # Then none leads to a page the role may not open, or to none
    assert broken == {}
