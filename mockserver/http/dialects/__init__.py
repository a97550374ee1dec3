"""Routes other than ``/v2`` that gateways serve beside it, over the same ``Service`` and the same tasks.

Each dialect is one module with ``routes(service)``: it reads its own request shape into a ``/v2`` submit
body, lets the service accept it, and answers a task as ``lifecycle.view`` sees it, in its own shape.
Ids are the service's, so a task made on one route of a scope is read on every other with the same key.
A third dialect is a new module added to ``MODULES``.
"""

from __future__ import annotations

from starlette.routing import Route

from ...engine.service import Service
from . import newapi, openai_videos

MODULES = (newapi, openai_videos)


def routes(service: Service) -> list[Route]:
    return [route for module in MODULES for route in module.routes(service)]
