"""Local development: DEBUG on by default, everything else from ``base``."""

import os

os.environ.setdefault("DEBUG", "1")

from .base import *  # noqa: E402, F403
