"""The in-portal inbox: one's own notices, newest first; opening one marks it read and
follows its link; "mark all read"; the header's unread count (one query, logged-in only)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal import notify
from portal.models import InboxMessage
from practice.models import User
from tests.conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client: Any) -> Any:
    def make(user: User | None = None) -> Any:
        client.logout()
        if user is not None:
            client.force_login(user)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        return client

    return make


def _notice(user: User, subject: str, link: str = "/dashboard/") -> InboxMessage:
    return notify.notify_users(
        users=[user], subject=subject, text=f"{subject} text", link=link, purpose="test"
    )[0]


def test_anonymous_is_sent_to_log_in(world: World, browser: Any) -> None:
    client = browser()
    for url in ("/inbox/", "/inbox/1/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client.post("/inbox/read/").status_code == 302
    assert 'id="inbox-link"' not in client.get("/").content.decode()


def test_one_sees_only_ones_own_messages_newest_first(world: World, browser: Any) -> None:
    first = _notice(world.coordinator, "第一条")
    second = _notice(world.coordinator, "第二条")
    _notice(world.station_manager, "别人的")
    response = browser(world.coordinator).get("/inbox/")
    assert response.status_code == 200
    assert [m.pk for m in response.context["inbox"]] == [second.pk, first.pk]
    body = response.content.decode()
    assert "别人的" not in body
    assert body.count("data-unread") == 2
    # A role-less account has an inbox too (volunteers get notices).
    assert browser(world.no_role).get("/inbox/").status_code == 200


def test_opening_a_message_marks_it_read_and_follows_its_link(world: World, browser: Any) -> None:
    message = _notice(world.coordinator, "新请求", link="/requests/")
    client = browser(world.coordinator)
    response = client.get(f"/inbox/{message.pk}/")
    assert response.status_code == 302 and response["Location"] == "/requests/"
    message.refresh_from_db()
    assert message.read_at is not None
    assert "data-unread" not in client.get("/inbox/").content.decode()


def test_a_link_elsewhere_is_not_followed(world: World, browser: Any) -> None:
    message = _notice(world.coordinator, "外链", link="https://evil.example/x")
    response = browser(world.coordinator).get(f"/inbox/{message.pk}/")
    assert response.status_code == 302 and response["Location"] == "/inbox/"


def test_another_persons_message_is_404_and_stays_unread(world: World, browser: Any) -> None:
    theirs = _notice(world.station_manager, "别人的")
    assert browser(world.coordinator).get(f"/inbox/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read(world: World, browser: Any) -> None:
    for i in range(3):
        _notice(world.coordinator, f"消息{i}")
    theirs = _notice(world.station_manager, "别人的")
    client = browser(world.coordinator)
    assert client.get("/inbox/read/").status_code == 405
    response = client.post("/inbox/read/", follow=True)
    assert "marked read" in response.content.decode()
    assert not InboxMessage.objects.filter(recipient=world.coordinator, read_at__isnull=True)
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_header_shows_the_unread_count(
    world: World, browser: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = browser(world.coordinator)
    assert 'id="inbox-unread"' not in client.get("/dashboard/").content.decode()
    # The count is cached; a new message drops it when its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(4):
            _notice(world.coordinator, f"消息{i}")
    body = client.get("/dashboard/").content.decode()
    assert 'id="inbox-link"' in body
    assert '<span class="badge rounded-pill text-bg-warning" id="inbox-unread">4' in body


def test_the_count_costs_one_query(world: World, browser: Any) -> None:
    client = browser(world.coordinator)
    with CaptureQueriesContext(connection) as captured:
        client.get("/dashboard/")
    counts = [q["sql"] for q in captured.captured_queries if "portal_inboxmessage" in q["sql"]]
    assert len(counts) == 1 and "COUNT" in counts[0].upper()
    with CaptureQueriesContext(connection) as again:  # then from the cache
        client.get("/dashboard/")
    assert not [q for q in again.captured_queries if "portal_inboxmessage" in q["sql"]]
    browser()
    with CaptureQueriesContext(connection) as anonymous:
        client.get("/")
    assert not [q for q in anonymous.captured_queries if "portal_inboxmessage" in q["sql"]]


def test_the_inbox_is_paginated_at_a_constant_cost(
    world: World, browser: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = browser(world.coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            _notice(world.coordinator, f"消息{i}")
    with CaptureQueriesContext(connection) as small:
        client.get("/inbox/")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(60):
            _notice(world.coordinator, f"更多{i}")
    with CaptureQueriesContext(connection) as large:
        response = client.get("/inbox/?page=2")
    assert len(small.captured_queries) == len(large.captured_queries)
    assert len(response.context["inbox"]) == 30
