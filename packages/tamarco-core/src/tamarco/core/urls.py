"""URLs from settings: their authority part checked before any of it is used or shown.

A password that is not percent-encoded breaks a URL silently: in
``amqp://probe:p@ss/w:rd%@broker:5672/`` the host is ``ss`` and the rest of the password lands in
the path, so a log line naming the "host" and "vhost" prints the password's tail.
:func:`authority_problem` finds such URLs and says what is wrong without quoting any part of the
URL but its scheme, so the error that reports it is safe to log.
"""

from __future__ import annotations

import re

__all__ = ["PERCENT_ENCODE_HINT", "authority_problem"]

#: What an error about a URL's user info tells the user to do.
PERCENT_ENCODE_HINT = (
    "percent-encode the user and password (in Python: urllib.parse.quote(password, safe='')), "
    "or give them as separate settings"
)

#: RFC 3986 userinfo: unreserved, sub-delims, ':' and %XX escapes.
_USERINFO = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; a host of letters, digits, ``-``, ``.``, ``_``, %XX.
_HOSTPORT = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?")


def authority_problem(url: str) -> str | None:
    """Why the authority (``user:password@host:port``) of ``url`` is not valid, or None.

    The reason names what is wrong, never a character of the URL after ``scheme://``. An ``@``
    after the authority (in the path, query or fragment) counts as wrong: it is what an unencoded
    ``/``, ``?`` or ``#`` in a password leaves behind.
    """
    scheme = _SCHEME.match(url)
    if scheme is None:
        return "it does not start with scheme://"
    rest = url[scheme.end() :]
    end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    authority, after = rest[:end], rest[end:]
    if "@" in after:
        return "an '@' follows the host part: the user or password holds an unencoded '/', '?', '#' or '@'"
    userinfo, at, hostport = authority.rpartition("@")
    if at and "@" in userinfo:
        return "its user info holds an unencoded '@'"
    if at and not _USERINFO.fullmatch(userinfo):
        return "its user info holds characters that must be percent-encoded (a '%' not followed by two hex digits?)"
    if not hostport:
        return "it has no host"
    if not _HOSTPORT.fullmatch(hostport):
        return "its host or port is not valid"
    return None
