"""The naive ingestion baseline (flows/bench/naive.py) pages through any number of Zoho deals.

Zoho stops a ``page_token`` listing at 100,000 records (``PAGINATION_LIMIT_EXCEEDED``, which the
sandbox answers too: flows/sandbox/zoho/listing.py); that failed the 1M-deal bench's ingestion row
on its 500,000 Zoho deals. The loop then lists again from the last change it saw. Here the limit
is lowered on both sides to one page past the 2,000 records ``page`` reaches, so that a small
company crosses it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import duckdb
import pytest
from zoho_support import T0, zoho_company

from flows.bench import naive
from flows.sandbox.company.model import Company
from flows.sandbox.zoho import listing
from flows.sandbox.zoho.server import ZohoSandbox

LIMIT = 2_200  # `page` up to record 2,000, then one page_token page
DEALS = 2_500


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Company], ZohoSandbox]]:
    """Serve a company from a sandbox whose page_token listings stop at ``LIMIT`` records, with the
    environment the naive loop reads pointing at it."""
    monkeypatch.setattr(listing, "TOKEN_LIMIT", LIMIT)
    started: list[ZohoSandbox] = []

    def start(company: Company) -> ZohoSandbox:
        sb = ZohoSandbox(company).__enter__()
        started.append(sb)
        monkeypatch.setenv("SALESOPS_ZOHO_ACCOUNTS_URL", sb.accounts_url)
        monkeypatch.setenv("SALESOPS_ZOHO_CLIENT_ID", sb.CLIENT_ID)
        monkeypatch.setenv("SALESOPS_ZOHO_CLIENT_SECRET", sb.CLIENT_SECRET)
        monkeypatch.setenv("SALESOPS_ZOHO_REFRESH_TOKEN", sb.REFRESH_TOKEN)
        return sb

    yield start
    for sb in started:
        sb.__exit__(None, None, None)


def test_the_loop_lists_again_past_the_page_token_limit_and_lands_every_deal(serve, tmp_path):
    sb = serve(zoho_company(DEALS, modified=T0 - timedelta(days=1), spaced=True))  # one a second
    db = tmp_path / "naive.duckdb"
    answer = naive.naive_zoho_deals(str(db), token_limit=LIMIT)
    with duckdb.connect(str(db), read_only=True) as conn:
        landed = [row[0] for row in conn.execute("select id from deals").fetchall()]
    assert set(landed) == set(sb.live_ids("Deals")) and answer["records"] == DEALS
    # the second listing starts at the first one's last second: that one deal is read twice
    assert len(landed) == DEALS + 1
    # the token, 11 pages to the limit, then 301 records again from the last change: 2 pages
    assert answer["api_calls"] == 1 + 11 + 2


def test_more_deals_in_one_second_than_a_listing_reaches_is_an_error_not_an_endless_loop(serve, tmp_path):
    serve(zoho_company(DEALS, modified=T0 - timedelta(days=1)))  # every deal in the same second
    with pytest.raises(RuntimeError, match=f"more than {LIMIT} deals changed at"):
        naive.naive_zoho_deals(str(tmp_path / "naive.duckdb"), token_limit=LIMIT)
