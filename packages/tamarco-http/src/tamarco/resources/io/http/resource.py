"""The HTTP resources, at the import path of the 0.1 documentation: the names of
:mod:`tamarco.resources.io.http` (listed once, in its ``__all__``).

``from tamarco.resources.io.http.resource import HTTPClientResource, HTTPServerResource``
"""

from __future__ import annotations

from tamarco.resources.io.http import *  # noqa: F403
from tamarco.resources.io.http import __all__ as __all__
