"""The generator's activities: tasks, calls and events per rep, mostly about a deal while it was
open (``What_Id`` = the deal, ``Who_Id`` = its contact), some about an account only, a few about
nothing; and the one a sandbox logs "now" (its admin simulate).

Everything logged happens before the generator's "now" (``horizon``); a few tasks are still open
with due dates ahead, a few calls are scheduled. Only the Zoho sandbox serves them (the Fxiaoke
sandbox has no activity object).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from flows.sandbox.company.draws import business_time
from flows.sandbox.company.model import Activity, Company, Contact, Deal
from flows.sandbox.company.vocabulary import CALL_RESULTS, CALL_SUBJECTS, EVENT_SUBJECTS, TASK_SUBJECTS

_KINDS, _WEIGHTS = ["task", "call", "event"], [40, 40, 20]


def add_activities(company: Company, rng: random.Random, horizon: datetime) -> None:
    log = _ActivityLog(company, rng, horizon)
    for deal in company.deals:
        if not deal.history:
            continue
        start = deal.created_at
        end = deal.history[-1].changed_at if deal.stage_category != "open" else horizon
        span = max(1, int((end - start).total_seconds()))
        for _ in range(rng.randrange(0, 5)):
            at = start + timedelta(seconds=rng.randrange(span))
            log.add(rng.choices(_KINDS, _WEIGHTS)[0], deal.owner_key, at, deal, deal.account_key)
    # Account-only activities (account maintenance) and a few linked to nothing.
    for acc in company.accounts:
        for _ in range(rng.randrange(0, 3)):
            at = business_time(company.as_of - timedelta(days=rng.randrange(1, 540)), rng)
            if at < acc.created_at:
                continue
            log.add(rng.choices(_KINDS, _WEIGHTS)[0], acc.owner_key, at, None, acc.key)
    reps = [u for u in company.users if u.role == "rep"]
    for _ in range(len(reps) * 2):
        rep = rng.choice(reps)
        at = business_time(company.as_of - timedelta(days=rng.randrange(1, 365)), rng)
        log.add("task", rep.key, at, None, None)


class _ActivityLog:
    """Appends activities to the company, drawing each kind's details from one random stream."""

    def __init__(self, company: Company, rng: random.Random, horizon: datetime):
        self.company, self.rng, self.horizon = company, rng, horizon
        self.users = {u.key: u for u in company.users}
        self.contacts_by_account: dict[int, list[Contact]] = {}
        for con in company.contacts:
            self.contacts_by_account.setdefault(con.account_key, []).append(con)

    def add(
        self, kind: str, owner_key: int, at: datetime, deal: Deal | None, account_key: int | None
    ) -> None:
        rng, horizon = self.rng, self.horizon
        at = min(at, horizon - timedelta(minutes=5))
        left_on = self.users[owner_key].left_on
        if left_on is not None and at.date() > left_on:
            return  # nobody logs activities for a rep who has left
        contact_key = deal.contact_key if deal else None
        if contact_key is None and account_key is not None and rng.random() < 0.5:
            pool = self.contacts_by_account.get(account_key)
            contact_key = rng.choice(pool).key if pool else None
        act = Activity(
            key=len(self.company.activities) + 1,
            crm=self.users[owner_key].crm,
            kind=kind,
            owner_key=owner_key,
            subject="",
            created_at=at,
            modified_at=at,
            deal_key=deal.key if deal else None,
            account_key=account_key,
            contact_key=contact_key,
        )
        if kind == "task":
            self._task(act, at)
        elif kind == "call":
            self._call(act, at)
        else:
            self._event(act, at)
        act.modified_at = min(max(act.modified_at, act.created_at), horizon - timedelta(minutes=1))
        self.company.activities.append(act)

    def _task(self, act: Activity, at: datetime) -> None:
        rng = self.rng
        act.subject = rng.choice(TASK_SUBJECTS)
        act.created_at = at - timedelta(days=rng.randrange(0, 5), minutes=rng.randrange(600))
        act.due_date = (at + timedelta(days=rng.randrange(0, 7))).date()
        act.priority = rng.choice(["High", "Normal", "Normal", "Low", None])
        roll = rng.random()
        if ((self.horizon - at).days > 7 and roll < 0.85) or roll < 0.4:
            act.status, act.closed_at = "Completed", at
            act.modified_at = at
        else:
            act.status = rng.choice(["Not Started", "In Progress", "Deferred"])
            act.modified_at = act.created_at + timedelta(hours=rng.randrange(0, 24))

    def _call(self, act: Activity, at: datetime) -> None:
        rng = self.rng
        act.subject = rng.choice(CALL_SUBJECTS)
        act.call_type = rng.choices(["Outbound", "Inbound", "Missed"], [70, 25, 5])[0]
        act.start_at = at
        if rng.random() < 0.05 and (self.horizon - at).days < 20:
            # scheduled ahead, logged now: no duration yet
            act.status, act.start_at = "Scheduled", self.horizon + timedelta(days=rng.randrange(1, 10))
            act.created_at = act.modified_at = at
        else:
            act.status = "Completed"
            missed = act.call_type == "Missed"
            act.call_duration_s = 0 if missed else rng.randrange(60, 3600)
            act.call_result = None if missed else rng.choice(CALL_RESULTS)
            act.modified_at = at + timedelta(seconds=(act.call_duration_s or 0) + 60)

    def _event(self, act: Activity, at: datetime) -> None:
        rng = self.rng
        act.subject = rng.choice(EVENT_SUBJECTS)
        act.all_day = rng.random() < 0.05
        start = at.replace(minute=0, second=0)
        act.start_at = start
        act.end_at = start + timedelta(minutes=rng.choice([30, 60, 60, 90, 120]))
        act.created_at = start - timedelta(days=rng.randrange(1, 10))
        act.modified_at = act.created_at + timedelta(hours=rng.randrange(1, 48))


def simulated_activity(company: Company, kind: str, key: int, rng: random.Random, at: datetime) -> Activity:
    """A task, call or event (``kind``) logged now by an active Zoho rep about one of their open
    deals (any of their deals when none is open): completed, so the scorecard counts it."""
    owners = [u for u in company.users if u.crm == "zoho" and u.role == "rep" and u.active]
    if not owners:
        raise ValueError("no active Zoho rep to log an activity")
    owner = rng.choice(owners)
    theirs = [d for d in company.deals if d.owner_key == owner.key]
    deal = rng.choice([d for d in theirs if d.stage_category == "open"] or theirs or [None])
    act = Activity(
        key=key,
        crm="zoho",
        kind=kind,
        owner_key=owner.key,
        subject=rng.choice({"task": TASK_SUBJECTS, "call": CALL_SUBJECTS}.get(kind, EVENT_SUBJECTS)),
        created_at=at,
        modified_at=at,
        deal_key=deal.key if deal else None,
        account_key=deal.account_key if deal else None,
        contact_key=deal.contact_key if deal else None,
        status="Completed" if kind in ("task", "call") else None,
    )
    if kind == "task":
        act.due_date, act.closed_at, act.priority = at.date(), at, "Normal"
    elif kind == "call":
        act.call_type, act.start_at, act.call_duration_s = "Outbound", at, rng.randrange(60, 1800)
    else:
        act.start_at, act.end_at = at - timedelta(hours=1), at
    return act
