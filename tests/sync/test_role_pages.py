"""Each role sees what it is meant to manage, and no link leads it to a page it may not open (issue 17): head office
manages API keys and opens the schedule its connectors link to; boutique staff open neither."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Advisor
from tests.desk.helpers import logged_in
from tests.factories import BoutiqueFactory, make_staff

pytestmark = pytest.mark.django_db


def test_head_office_manages_api_keys(db):
    head_office = logged_in(make_staff(Advisor.Role.HEAD_OFFICE))

    pages = [head_office.get(reverse(f"admin:integrations_apikey_{view}")) for view in ("changelist", "add")]

    assert [page.status_code for page in pages] == [200, 200]


def test_head_office_opens_the_schedule_its_connector_links_to(pos_setting):
    head_office = logged_in(make_staff(Advisor.Role.HEAD_OFFICE))
    connector_page = head_office.get(reverse("admin:sync_connectorsetting_change", args=[pos_setting.pk]))
    schedule_url = reverse("admin:django_celery_beat_periodictask_change", args=[pos_setting.periodic_task_id])

    schedule_page = head_office.get(schedule_url)

    assert connector_page.status_code == 200
    assert f'href="{schedule_url}"' in connector_page.content.decode()
    assert schedule_page.status_code == 200
    assert not schedule_page.context["has_change_permission"]  # changed through the connector's settings


@pytest.mark.parametrize("role", [Advisor.Role.ADVISOR, Advisor.Role.BOUTIQUE_MANAGER])
def test_boutique_staff_open_neither_api_keys_nor_schedules(role, pos_setting):
    staff = logged_in(make_staff(role, BoutiqueFactory(code="PAR")))

    keys = staff.get(reverse("admin:integrations_apikey_changelist"))
    schedule = staff.get(reverse("admin:django_celery_beat_periodictask_change", args=[pos_setting.periodic_task_id]))

    assert (keys.status_code, schedule.status_code) == (403, 403)
