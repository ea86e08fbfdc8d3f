"""The tree page's rows (``practice.selectors.tree_rows``) as HTML, in one pass.

The tree page is a county office's most-used page and shows a few hundred units; rendered
by the template language each row cost about a quarter of a millisecond (two URL
reversals, half a dozen translations, a dozen variable lookups). Here each row is a few
string joins: the addresses come from one reversal with a placeholder, the kind labels and
the words from one translation per request (escaped once), and the unit's name and kind
are escaped in each row.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from practice.choices import UnitKind
from practice.models import Unit
from practice.selectors import TreeRow

register = template.Library()

_CLOSE = "</ul></details></li>"
_PLACEHOLDER = 2**62  # an id no unit has, replaced by each row's own


class _Words:
    """What every row says, translated once per rendering."""

    def __init__(self) -> None:
        detail = reverse("unit-detail", args=[_PLACEHOLDER])
        self.detail_prefix, self.detail_suffix = detail.split(str(_PLACEHOLDER))
        self.tree = reverse("unit-tree")
        self.kinds = {kind.value: str(kind.label) for kind in UnitKind}
        self.inactive = escape(gettext("inactive"))
        self._counts: dict[tuple[str, int], str] = {}

    def count(self, which: str, n: int) -> str:
        key = (which, n)
        if key not in self._counts:
            if which == "below":
                text = ngettext("%(n)s sub-unit", "%(n)s sub-units", n)
            elif which == "more":
                text = ngettext("%(n)s more below", "%(n)s more below", n)
            else:
                text = ngettext("(%(n)s inactive)", "(%(n)s inactive)", n)
            self._counts[key] = escape(text % {"n": n})
        return self._counts[key]


def _badges(unit: Unit, words: _Words) -> str:
    kind = unit.kind
    html = (
        f'<span class="badge rounded-pill kind-badge kind-{escape(kind)}">'
        f"{escape(words.kinds.get(kind, kind))}</span>"
    )
    if not unit.is_active:
        html += f' <span class="badge text-bg-secondary kind-badge">{words.inactive}</span>'
    return html


def _row(row: TreeRow, words: _Words) -> str:
    """One row's HTML. Escaped: the unit's name and kind, and every translated word (see
    :class:`_Words`); the rest are numbers and constants."""
    unit = row.unit
    link = (
        f'<a href="{words.detail_prefix}{int(unit.pk)}{words.detail_suffix}">'
        f"{escape(unit.name)}</a> {_badges(unit, words)}"
    )
    active = int(getattr(unit, "active_below", 0) or 0)
    inactive = int(getattr(unit, "inactive_below", 0) or 0)
    hidden = f" {words.count('inactive', inactive)}" if inactive else ""
    if row.has_children:
        opened = " open" if row.is_open else ""
        return (
            f"<li>\n  <details{opened}>\n    <summary>{link} "
            f'<span class="tree-count text-muted small">· {words.count("below", active)}'
            f"{hidden}</span></summary>\n    <ul>\n"
        )
    more = ""
    if active or inactive:
        more = (
            f' <a class="tree-count small" href="{words.tree}?within={int(unit.pk)}">'
            f"{words.count('more', active)}{hidden} ›</a>"
        )
    return f'<li>\n  <div class="leaf">{link}{more}</div>\n</li>\n'


@register.simple_tag
def tree_list(rows: Sequence[TreeRow], closing: range) -> SafeString:
    """The ``<li>`` rows of a tree: nested ``<details>`` lists, as the page's ``<ul>``
    holds them."""
    if not rows:
        return format_html('<li class="text-muted">{}</li>', gettext("No units yet."))
    words = _Words()
    parts: list[str] = []
    for row in rows:
        parts.append(_CLOSE * len(row.closes))
        parts.append(_row(row, words))
    parts.append(_CLOSE * len(closing))
    return mark_safe("".join(parts))  # noqa: S308 - every part is built by format_html
