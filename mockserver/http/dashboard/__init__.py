"""The dashboard at ``/_mock/ui``: plain HTML, CSS and JavaScript modules shipped in the package.

The page itself holds no data and needs no key; everything it shows comes from the admin API and
from the few read-only views here, all behind the admin key. See ``routes.py``.
"""

from .routes import routes

__all__ = ["routes"]
