"""The HTTP session both connectors call their CRM with.

Two things a bare ``requests.Session()`` gets wrong for a connector:

- **netrc.** With no ``auth`` given, requests looks the host up in ``~/.netrc`` (or ``$NETRC``) on
  every request and, if it is there, replaces the request's ``Authorization`` header with Basic
  credentials (documented: "Authorization headers set with headers= will be overridden if
  credentials are specified in .netrc"). A machine whose netrc names the CRM's host would then
  send no OAuth token at all. The connectors build their own ``Authorization`` header, so the
  session's ``auth`` leaves the request as it is and the netrc is never read.
- **Per-call cost.** A 1M-deal Zoho first load makes ~500k stage-history GETs (one per deal: Zoho
  has no bulk endpoint for them). requests spends ~0.4 ms of CPU on each beyond the wire work
  (environment and proxy lookups, the CA bundle's ``isdir``, cookie extraction, hooks), more than
  urllib3 (which requests itself sends through) needs for the whole call. :class:`ApiSession`
  therefore sends plain GETs to hosts that no proxy applies to straight through a urllib3 pool,
  and gives everything else to requests: other methods, proxied hosts, and answers that
  redirect (re-sent through requests, which follows them as it always did). What the lean path
  does the same as requests: the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else
  certifi), the default headers, gzip/deflate decoding, timeouts, and requests' exception types
  (``ConnectionError``, ``ConnectTimeout``, ``ReadTimeout``, ``ChunkedEncodingError`` for a
  connection broken mid-body, ``SSLError``), so the retry policy cannot tell the two apart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_environ_proxies, select_proxy
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class HeadersOnly(AuthBase):
    """Sends the request with the headers the connector set, and nothing from netrc."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class ApiResponse:
    """The part of :class:`requests.Response` the connectors read: status, headers, body, JSON."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes):
        self.status_code = status_code
        self.headers = headers  # urllib3's HTTPHeaderDict: case-insensitive, like requests'
        self.content = content

    @property
    def is_redirect(self) -> bool:
        return self.status_code in REDIRECT_STATUSES and "location" in self.headers

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` (as with requests) when it is not."""
        return json.loads(self.content)


def query_string(params: Mapping[str, Any] | None) -> str:
    """``params`` encoded as requests encodes them: list values repeat the key, ``None`` is left out."""
    if not params:
        return ""
    pairs = [
        (key, value)
        for key, values in params.items()
        for value in (values if isinstance(values, (list, tuple)) else [values])
        if value is not None
    ]
    return urlencode(pairs)


def _timeout(timeout: float | tuple[float, float] | None) -> urllib3.Timeout:
    if isinstance(timeout, tuple):
        return urllib3.Timeout(connect=timeout[0], read=timeout[1])
    return urllib3.Timeout(connect=timeout, read=timeout)


class ApiSession:
    """A requests-compatible session whose plain GETs skip requests' per-call work (module doc)."""

    def __init__(self, pool_size: int = 1):
        self.fallback = requests.Session()
        self.fallback.auth = HeadersOnly()
        if pool_size > 1:  # one kept connection per thread calling at once
            self.mount("http://", HTTPAdapter(pool_maxsize=pool_size, max_retries=0))
            self.mount("https://", HTTPAdapter(pool_maxsize=pool_size, max_retries=0))
        env = os.environ
        bundle = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or DEFAULT_CA_BUNDLE_PATH
        where = {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
        self._pools = urllib3.PoolManager(
            num_pools=4, maxsize=max(1, pool_size), retries=False, cert_reqs="CERT_REQUIRED", **where
        )
        self._defaults = dict(self.fallback.headers)
        self._direct: dict[str, bool] = {}  # per origin: no proxy applies to it

    def mount(self, prefix: str, adapter: HTTPAdapter) -> None:
        """Adapters apply to what goes through requests (the lean path has its own pool)."""
        self.fallback.mount(prefix, adapter)

    def close(self) -> None:
        self.fallback.close()
        self._pools.clear()

    def get(self, url: str, **kwargs: Any) -> requests.Response | ApiResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.fallback.request("POST", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
        timeout: float | tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> requests.Response | ApiResponse:
        """A plain GET to a direct host through the lean path; anything else through requests."""
        if method.upper() == "GET" and not kwargs and self._is_direct(url):
            query = query_string(params)
            full = f"{url}{'&' if '?' in url else '?'}{query}" if query else url
            sent = {**self._defaults, **(headers or {})}
            response = self._send(full, {k: v for k, v in sent.items() if v is not None}, timeout)
            if not response.is_redirect:
                return response
        return self.fallback.request(method, url, params=params, headers=headers, timeout=timeout, **kwargs)

    def _is_direct(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        direct = self._direct.get(origin)
        if direct is None:
            direct = select_proxy(url, get_environ_proxies(url)) is None
            self._direct[origin] = direct
        return direct

    def _send(
        self, url: str, headers: dict[str, str], timeout: float | tuple[float, float] | None
    ) -> ApiResponse:
        """One GET and its whole body, urllib3's failures raised as requests' (module doc)."""
        try:
            raw = self._pools.urlopen(
                "GET", url, headers=headers, timeout=_timeout(timeout), redirect=False, preload_content=False
            )
        except NewConnectionError as exc:  # a subclass of ConnectTimeoutError: test it first
            raise requests.ConnectionError(exc) from None
        except ConnectTimeoutError as exc:
            raise requests.ConnectTimeout(exc) from None
        except ReadTimeoutError as exc:
            raise requests.ReadTimeout(exc) from None
        except Urllib3SSLError as exc:
            raise requests.exceptions.SSLError(exc) from None
        except Urllib3Error as exc:
            raise requests.ConnectionError(exc) from None
        try:
            content = raw.read()
        except ProtocolError as exc:  # the connection broke while the body was being read
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from None
        except (ReadTimeoutError, Urllib3Error) as exc:
            raise requests.ConnectionError(exc) from None
        finally:
            raw.release_conn()
        return ApiResponse(raw.status, raw.headers, content)


def api_session(pool_size: int = 1) -> ApiSession:
    """A session whose requests carry only the connector's own credentials, with ``pool_size``
    kept connections per host for the threads that call at once."""
    return ApiSession(pool_size)


#: What a connector's call returns: requests' answer, or the lean path's (the same attributes).
Response = requests.Response | ApiResponse
