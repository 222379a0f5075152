"""The Fxiaoke organisation: departments (one per region under the root, one per team under its
region), employees (``/cgi/user/list``) and the PersonnelObj CRM records of the same people."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flows.sandbox.company.model import Company, User
from flows.sandbox.fxiaoke.encoding.common import POSITIONS, EncodingContext
from flows.sandbox.fxiaoke.wire import CHINA_TZ, ROOT_DEPARTMENT_ID, digest, ms_to_dt, open_user_id, to_ms


def encode_departments(company: Company) -> tuple[list[dict], dict[str, int], dict[str, int]]:
    """One top department per region under the root, one department per team under its region."""
    departments: list[dict] = []
    dept_of_region: dict[str, int] = {}
    dept_of_team: dict[str, int] = {}
    updated = to_ms(datetime.combine(company.as_of - timedelta(days=600), time(9), tzinfo=CHINA_TZ))
    for i, region in enumerate(company.regions):
        region_id = 1000 + 100 * (i + 1)
        dept_of_region[region.name] = region_id
        departments.append(
            {
                "departmentId": region_id,
                "name": region.name,
                "parentId": ROOT_DEPARTMENT_ID,
                "order": i + 1,
                "isStop": False,
                "updateTime": updated,
            }
        )
        teams = sorted({u.team for u in company.users if u.region == region.name and u.team})
        for j, team in enumerate(teams):
            dept_of_team[team] = region_id + j + 1
            departments.append(
                {
                    "departmentId": region_id + j + 1,
                    "name": team,
                    "parentId": region_id,
                    "order": j + 1,
                    "isStop": False,
                    "updateTime": updated,
                }
            )
    return departments, dept_of_region, dept_of_team


def encode_employee(
    user: User, users: dict[int, User], dept_of_region: dict[str, int], dept_of_team: dict[str, int]
) -> dict:
    dept = dept_of_team[user.team] if user.team else dept_of_region[user.region]
    stop_ms = to_ms(datetime.combine(user.left_on, time(18), tzinfo=CHINA_TZ)) if user.left_on else None
    hired_ms = to_ms(datetime.combine(user.hired_on, time(9), tzinfo=CHINA_TZ))
    return {
        "openUserId": open_user_id(user.key),
        "account": f"1{user.key:03d}",
        "name": user.full_name,
        "nickName": user.full_name,
        "email": user.email,
        "mobile": f"138{int(digest('mobile', user.key)[:8], 16) % 10**8:08d}",
        "gender": "U",
        "isStop": not user.active,
        "mainDepartmentId": dept,
        "departmentIds": [dept],
        "leaderId": open_user_id(user.manager_key) if user.manager_key in users else None,
        "position": POSITIONS[user.role],
        "hireDate": user.hired_on.isoformat(),
        "stopTime": stop_ms,
        "updateTime": stop_ms or hired_ms,
    }


def encode_personnel(ctx: EncodingContext, employees: list[dict]) -> dict[str, dict]:
    personnel: dict[str, dict] = {}
    for user, emp in zip(ctx.company.users, employees, strict=True):
        hired = datetime.combine(user.hired_on, time(9), tzinfo=CHINA_TZ)
        rec = ctx.common("PersonnelObj", user.key, hired, ms_to_dt(emp["updateTime"]), user.key, 1)
        rec.update(
            {
                "_id": str(1000 + user.key),  # PersonnelObj ids are the numeric employee ids
                "name": user.full_name,
                "user_id": str(1000 + user.key),
                "field_open_user_id__c": emp["openUserId"],
                "email": user.email,
                "phone": emp["mobile"],
                "status": "1" if user.active else "2",  # 1 启用 / 2 停用
                "status__r": "启用" if user.active else "停用",
                "main_department_id": [str(emp["mainDepartmentId"])],
                "leader": [str(1000 + user.manager_key)] if user.manager_key in ctx.users else [],
                "position": emp["position"],
            }
        )
        personnel[rec["_id"]] = rec
    return personnel
