"""A mock of the unified generations API whose tasks walk their lifecycle on a clock.

The app is imported on first use, so that ``mockserver.contract`` (which the kit imports) costs no
more than the contract itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine.config import Config, load_config
    from .http.app import create_app

__all__ = ["Config", "create_app", "load_config"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .http.app import create_app

        return create_app
    if name in ("Config", "load_config"):
        from .engine import config

        return getattr(config, name)
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
