"""The generator's people and organisations: users (directors, managers, reps) per region and team,
and the customer accounts with their contacts."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from flows.sandbox.company.draws import business_time, money
from flows.sandbox.company.model import Account, Contact, Region, User
from flows.sandbox.company.vocabulary import (
    CN_COMPANY,
    CN_GIVEN,
    CN_PINYIN,
    CN_SUFFIX,
    CN_SURNAME,
    COMPANY_SUFFIX,
    COMPANY_WORDS,
    FIRST,
    INDUSTRIES,
    LAST,
)


@dataclass
class _Staff:
    """Hires users one by one: names by region (Chinese in Fxiaoke regions), unique e-mails."""

    rng: random.Random
    start: date
    users: list[User] = field(default_factory=list)
    used_emails: set[str] = field(default_factory=set)

    def hire(self, role: str, region: Region, team: str | None, manager_key: int | None) -> User:
        rng = self.rng
        key = len(self.users) + 1
        if region.crm == "fxiaoke":
            surname, given = rng.choice(CN_SURNAME), rng.choice(CN_GIVEN)
            first, last, full = given, surname, surname + given
            local = f"{CN_PINYIN[surname]}.{key}"
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            full = f"{first} {last}"
            local = f"{first}.{last}".lower()
        email = f"{local}@salesops-demo.com"
        if email in self.used_emails:
            email = f"{local}{key}@salesops-demo.com"
        self.used_emails.add(email)
        hired = self.start - timedelta(days=rng.randrange(30, 900))
        user = User(
            key,
            first,
            last,
            full,
            email,
            role,
            region.name,
            team,
            manager_key,
            region.crm,
            hired,
            birthday=date(rng.randrange(1970, 1998), rng.randrange(1, 13), rng.randrange(1, 29)),
        )
        self.users.append(user)
        return user


def generate_users(
    rng: random.Random, regions: list[Region], reps: int, start: date, as_of: date
) -> tuple[list[User], list[User]]:
    """Every user, and the reps among them. ``reps`` are spread evenly over regions x 2 teams."""
    staff = _Staff(rng, start)
    rep_users: list[User] = []
    team_slots = [(r, t) for r in regions for t in (1, 2)]
    for region in regions:
        director = staff.hire("director", region, None, None)
        for t in (1, 2):
            team = f"{region.name} {t}"
            manager = staff.hire("manager", region, team, director.key)
            n_reps = sum(1 for i in range(reps) if team_slots[i % len(team_slots)] == (region, t))
            for _ in range(n_reps):
                rep_users.append(staff.hire("rep", region, team, manager.key))
    # In each CRM one rep joined mid-window and one left: proration and "left" reps are real cases.
    for crm in ("zoho", "fxiaoke"):
        crm_reps = [u for u in rep_users if u.crm == crm]
        if len(crm_reps) >= 3:
            crm_reps[1].hired_on = as_of - timedelta(days=200)
            crm_reps[2].left_on = as_of - timedelta(days=90)
    return staff.users, rep_users


def generate_accounts(
    rng: random.Random, regions: list[Region], rep_users: list[User], n_accounts: int, start: date
) -> tuple[list[Account], list[Contact]]:
    """Accounts owned round-robin by the reps, each with one or two contacts."""
    accounts: list[Account] = []
    contacts: list[Contact] = []
    for i in range(n_accounts):
        owner = rep_users[i % len(rep_users)]
        region = next(r for r in regions if r.name == owner.region)
        if region.crm == "fxiaoke":
            name = f"{rng.choice(CN_COMPANY)}{rng.choice(CN_SUFFIX)}({i + 1})"
        else:
            name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)} {i + 1}"
        created = business_time(start - timedelta(days=rng.randrange(0, 365)), rng)
        acc = Account(
            key=i + 1,
            name=name,
            industry=rng.choice(INDUSTRIES),
            region=region.name,
            crm=region.crm,
            owner_key=owner.key,
            created_at=created,
            modified_at=created + timedelta(days=rng.randrange(0, 30)),
            annual_revenue=money(rng.uniform(1e6, 5e8)),
            employees=rng.randrange(20, 20000),
            country={"North America": "United States", "Europe": "Germany"}.get(region.name, "China"),
        )
        accounts.append(acc)
        for j in range(rng.randrange(1, 3)):
            first, last = (
                (rng.choice(CN_GIVEN), rng.choice(CN_SURNAME))
                if region.crm == "fxiaoke"
                else (rng.choice(FIRST), rng.choice(LAST))
            )
            contacts.append(
                Contact(
                    key=len(contacts) + 1,
                    account_key=acc.key,
                    first_name=first,
                    last_name=last,
                    email=f"contact{len(contacts) + 1}@customer{acc.key}.example",
                    crm=region.crm,
                    owner_key=owner.key,
                    created_at=created + timedelta(days=j),
                    modified_at=created + timedelta(days=j + 1),
                    birthday=date(rng.randrange(1960, 1995), rng.randrange(1, 13), rng.randrange(1, 29)),
                )
            )
    return accounts, contacts
