"""The display mode: standard, or elder-friendly (适老化: larger text, larger touch
targets, higher contrast).

Chosen with the header's switch (``portal.views.set_display``), which stores it in a
cookie; read here, validated, for the templates (``<body class="elder">``, through the
context processor ``portal.context_processors.display``) and for the public pages' cache
key (``portal.cache``), so elder and standard pages are cached apart.
"""

from __future__ import annotations

from django.http import HttpRequest

__all__ = ["COOKIE_AGE", "COOKIE_NAME", "ELDER", "MODES", "STANDARD", "display_mode"]

COOKIE_NAME = "portal_display"
COOKIE_AGE = 365 * 24 * 60 * 60  # a year: set once on a resident's phone, kept
STANDARD = "standard"
ELDER = "elder"
MODES = frozenset({STANDARD, ELDER})


def display_mode(request: HttpRequest) -> str:
    """The mode the visitor chose, ``STANDARD`` unless the cookie holds a known one."""
    chosen = request.COOKIES.get(COOKIE_NAME, "")
    return chosen if chosen in MODES else STANDARD
