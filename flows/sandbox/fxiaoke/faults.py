"""The Fxiaoke sandbox's fault switches: what a test (or ``POST /__admin/faults``) flips at runtime."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FxiaokeFaults:
    """Switches a test flips at runtime. Counters named ``*_calls`` apply to the next K ``/cgi/`` calls."""

    #: revoke every issued token at the next request (then resets itself)
    expire_token_now: bool = False
    #: a token dies after this many business calls made with it (then 20016); None = never
    expire_token_after_calls: int | None = None
    #: per-endpoint limit (crm_apis §2.7: 60 calls / 20 s); None disables it
    rate_limit_per_window: int | None = 60
    rate_limit_window_seconds: float = 20.0
    #: answer the next K calls with errorCode 14001 regardless of the window
    rate_limited_calls: int = 0
    #: answer the next K calls with a gateway HTML page and this HTTP status (502 or 504)
    gateway_error_calls: int = 0
    gateway_error_status: int = 502
    #: answer the next K calls with HTTP 200 and this errorCode (50009, -1, -2)
    service_error_calls: int = 0
    service_error_code: int = 50009
    #: delay the next K calls by ``slow_seconds`` (real time: meant to trip client timeouts)
    slow_calls: int = 0
    slow_seconds: float = 0.0
    #: reject a call without ``?thirdTraceId=`` (the real gateway's behaviour is unverified)
    require_trace_id: bool = True
    reject_reused_trace_id: bool = False
    #: whether data/query returns invalidated (作废) rows, with life_status "invalid"
    return_invalid: bool = True
    #: reject offsets above this (an unverified documented ceiling); None = no ceiling
    max_offset: int | None = None
    #: after the next data/query page is served, modify its first K rows (now), shifting later pages
    modify_during_paging: int = 0
    #: serve this many more data/query pages before ``modify_during_paging`` strikes
    modify_after_pages: int = 0
    #: answer every API call with the 302 HTML page a wrong host (``www.`` instead of ``open.``) gives
    wrong_host: bool = False
    #: business calls allowed per day (00:00-24:00 Asia/Shanghai on the sandbox clock), then 30002
    daily_quota: int | None = None
    #: reset the connection half-way through the body of the next K answers
    reset_calls: int = 0
