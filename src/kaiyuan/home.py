"""Where kaiyuan keeps its files: assembled models, evaluation results."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def kaiyuan_home() -> Path:
    """The cache directory (`$KAIYUAN_HOME` overrides the platform's user cache dir)."""
    configured = os.environ.get("KAIYUAN_HOME")
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("kaiyuan"))
