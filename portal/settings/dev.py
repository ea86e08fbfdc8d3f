"""Local development: DEBUG on by default, everything else from ``base``."""

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: F403

# Serve static files straight from the source folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
