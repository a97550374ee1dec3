"""A mock of the unified generations API whose tasks walk their lifecycle on a clock."""

from .app import create_app
from .config import Config, load_config

__all__ = ["Config", "create_app", "load_config"]
