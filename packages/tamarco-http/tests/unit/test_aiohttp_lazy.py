"""The report server imports ``aiohttp.web`` without aiohttp's client side (``_aiohttp.py``).

These check the aiohttp internals that relies on, against the installed release: the web side
imports without ``aiohttp.client``/``aiohttp.connector``, and the package's names still load
whole on first access, so code importing aiohttp later sees no difference.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_deferred_aiohttp_client_loads_on_first_use():
    """After the report server imported aiohttp.web alone, ``import aiohttp`` still works whole."""
    code = textwrap.dedent(
        """
        import sys
        from tamarco.resources.io.http._aiohttp import aiohttp_web
        web = aiohttp_web()
        assert web.Application and "aiohttp.client" not in sys.modules
        assert "aiohttp.connector" not in sys.modules
        import aiohttp
        assert aiohttp.__version__
        assert "aiohttp.client" not in sys.modules
        session_class = aiohttp.ClientSession
        from aiohttp import ClientTimeout, TCPConnector
        assert "aiohttp.connector" in sys.modules and session_class.__name__ == "ClientSession"
        assert aiohttp.web is web and aiohttp.hdrs.CONTENT_TYPE == "Content-Type"
        print("OK")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stderr[-3000:]


def test_aiohttp_already_imported_is_left_alone():
    code = textwrap.dedent(
        """
        import aiohttp
        from tamarco.resources.io.http._aiohttp import aiohttp_web
        assert aiohttp_web() is aiohttp.web and type(aiohttp).__name__ == "module"
        assert "__getattr__" not in vars(aiohttp) or vars(aiohttp)["__getattr__"].__module__ == "aiohttp"
        print("OK")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "OK", done.stderr[-3000:]
