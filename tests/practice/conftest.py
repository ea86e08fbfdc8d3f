"""Fixtures for the practice tests that check messages: they read them in English."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

Api = Callable[..., APIClient]


@pytest.fixture
def api_en(api: Api) -> Api:
    """The shared ``api`` fixture, asking for English messages (the default is Chinese)."""

    def make(user: Any = None) -> APIClient:
        client = api(user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return make
