"""``manage.py bench``: what the portal's operations cost and how that grows with the size
of the database, from one run.

One module per section — :mod:`.tree` (writes), :mod:`.reads` (pages and API in process),
:mod:`.uploads` (spreadsheets), :mod:`.load` (the portal under gunicorn and a load
generator) — and :mod:`.common` for the throwaway database, the trees, timing and tables.
``practice/management/commands/bench.py`` only parses arguments and calls :func:`.runner.run`.
A new section (volunteers, requests, activities) is a :class:`.common.Section` subclass
listed in :data:`.runner.SECTIONS`.
"""
