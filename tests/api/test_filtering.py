"""Shared API filtering: moments with any offset, stable ordering."""

from __future__ import annotations

import datetime as dt

import pytest

from core.filtering import UtcIsoDateTimeField


def test_a_moment_with_a_far_offset_is_read_in_utc():
    moment = UtcIsoDateTimeField().clean("0781-05-04T12:05:03-20:33")

    assert moment == dt.datetime(781, 5, 5, 8, 38, 3, tzinfo=dt.UTC)
    assert moment.utcoffset() == dt.timedelta(0)


def test_a_moment_that_leaves_the_calendar_is_invalid():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        UtcIsoDateTimeField().clean("0001-01-01T00:00:00+05:00")


@pytest.mark.django_db
def test_the_client_list_answers_400_not_500_to_an_impossible_moment(head_office):
    from tests.api.conftest import session_client

    api = session_client(head_office)

    assert api.get("/api/v1/customers/?updated_since=0001-01-01T00:00:00%2B05:00").status_code == 400
    assert api.get("/api/v1/customers/?updated_since=0781-05-04T12:05:03-20:33").status_code == 200
