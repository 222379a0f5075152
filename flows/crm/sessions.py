"""The HTTP session both connectors call their CRM with.

Why not a bare ``requests.Session()``: with no ``auth`` given, requests looks the host up in
``~/.netrc`` (or ``$NETRC``) on every request and, if it is there, replaces the request's
``Authorization`` header with Basic credentials (documented: "Authorization headers set with
headers= will be overridden if credentials are specified in .netrc"). A machine whose netrc names
the CRM's host would then send no OAuth token at all. The connectors build their own
``Authorization`` header, so the session's ``auth`` is one that leaves the request as it is: the
netrc is never read, which also spares a file lookup on each of the ~500k stage-history calls of
a 1M-deal first load.
"""

from __future__ import annotations

import requests
from requests.auth import AuthBase


class HeadersOnly(AuthBase):
    """Sends the request with the headers the connector set, and nothing from netrc."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def api_session() -> requests.Session:
    """A session whose requests carry only the connector's own credentials."""
    session = requests.Session()
    session.auth = HeadersOnly()
    return session
