"""Indexes for every filter the public pages and the API use (issue 6).

* ``(kind, tree_id, lft)`` replaces ``(kind)``: ``?kind=`` read in tree order, a page of it
  costing its own rows;
* ``(level, tree_id)``: the top-level units in order (home, tree page, their pages) and the
  global tree's ``level`` filter;
* ``(tree_id, lft, rght) WHERE NOT is_active``: the few inactive units staff list;
* on PostgreSQL, ``pg_trgm`` and a trigram GIN index on ``UPPER(name::text)`` — exactly the
  expression Django's ``icontains`` compares (``UPPER("name"::text) LIKE UPPER(%s)``), so
  the name search (``?q=``) reads the index instead of the table. SQLite has neither: both
  operations do nothing there.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models


class PostgreSQLOnly(migrations.RunSQL):
    """``RunSQL`` that runs on PostgreSQL only (a no-op elsewhere)."""

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)


class Migration(migrations.Migration):
    dependencies = [
        ("practice", "0003_text_validators"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="unit", name="unit_kind_idx"),
        migrations.AddIndex(
            model_name="unit",
            index=models.Index(fields=["kind", "tree_id", "lft"], name="unit_kind_tree_idx"),
        ),
        migrations.AddIndex(
            model_name="unit",
            index=models.Index(fields=["level", "tree_id"], name="unit_level_tree_idx"),
        ),
        migrations.AddIndex(
            model_name="unit",
            index=models.Index(
                condition=models.Q(("is_active", False)),
                fields=["tree_id", "lft", "rght"],
                name="unit_inactive_idx",
            ),
        ),
        TrigramExtension(),  # CREATE EXTENSION IF NOT EXISTS pg_trgm; nothing on SQLite
        PostgreSQLOnly(
            sql=(
                'CREATE INDEX IF NOT EXISTS unit_name_trgm_idx ON "practice_unit" '
                'USING gin ((UPPER("name"::text)) gin_trgm_ops)'
            ),
            reverse_sql="DROP INDEX IF EXISTS unit_name_trgm_idx",
        ),
    ]
