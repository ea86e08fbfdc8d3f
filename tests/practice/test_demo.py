"""The Nanjing County demo: the report's figures, and a second run changes nothing."""

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from practice.models import AuditEntry, RoleAssignment, Unit, User
from practice.selectors import network_counts
from practice.tree import tree_problems

pytestmark = pytest.mark.django_db


def _snapshot() -> tuple[Any, ...]:
    return (
        list(Unit.objects.order_by("pk").values_list("pk", "name", "lft", "rght", "tree_id")),
        list(User.objects.order_by("pk").values_list("pk", "username", "password")),
        list(RoleAssignment.objects.order_by("pk").values_list("pk", "user_id", "unit_id", "role")),
        AuditEntry.objects.count(),
    )


def test_seed_demo_builds_the_county_of_the_report() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert network_counts() == {
        "region": 0,
        "centre": 1,
        "institute": 12,
        "station": 185,
        "point": 6,
    }
    centre = Unit.objects.get(parent=None)
    assert centre.name == "南靖县新时代文明实践中心"
    assert centre.division_code == "350627"
    assert tree_problems(centre.tree_id) == []
    towns = set(centre.get_children().filter(kind="institute").values_list("name", flat=True))
    for town in (
        "山城镇",
        "靖城镇",
        "龙山镇",
        "丰田镇",
        "金山镇",
        "船场镇",
        "梅林镇",
        "书洋镇",
        "奎洋镇",
        "南坑镇",
        "和溪镇",
    ):
        assert f"{town}新时代文明实践所" in towns
    text = out.getvalue()
    for username in ("admin", "county", "shancheng", "dafang"):
        assert username in text  # the logins are printed
    assert RoleAssignment.objects.get(user__username="dafang").unit.name == "大房村新时代文明实践站"


def test_seed_demo_twice_changes_nothing() -> None:
    call_command("seed_demo", stdout=StringIO())
    first = _snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert _snapshot() == first
