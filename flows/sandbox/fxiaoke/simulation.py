"""Simulated CRM activity on the Fxiaoke sandbox: rows created, edited, invalidated (作废) and
deleted "now" (the sandbox clock); opportunity stage moves written to the CRM log."""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from flows.sandbox.company.model import Company
from flows.sandbox.fxiaoke.protocol import State, api_name, touch
from flows.sandbox.fxiaoke.wire import CRM_LOG, SYSTEM_USER, digest, to_ms


class Simulation:
    """Mixed into :class:`~flows.sandbox.fxiaoke.server.FxiaokeSandbox`: ``simulate``."""

    _company: Company
    _state: State
    _clock: Callable[[], datetime]
    _lock: threading.RLock

    def _simulate(
        self, obj: str, create: int, update: int, invalidate: int, delete: int, advance_stage: bool
    ) -> dict:
        if api_name(obj) == CRM_LOG:
            raise ValueError("the CRM log is written by opportunity updates (advance_stage), not simulated")
        with self._lock:
            store = self._state.data.objects[api_name(obj)]
            now_ms = to_ms(self._clock())
            self._state.sim_seq += 1
            rng = random.Random(f"{api_name(obj)}:{self._state.sim_seq}")
            live = sorted(store.normal_ids())
            if update + invalidate + delete > len(live):
                raise ValueError(f"only {len(live)} live {obj} rows to change")
            picked = rng.sample(live, update + invalidate + delete)
            to_update, to_invalidate = picked[:update], picked[update : update + invalidate]
            to_delete = picked[update + invalidate :]
            # the rows as they were, by position: what keeps the kept orders sorted (store.py)
            before: dict[int, dict | None] = {store.position(rid): dict(store[rid]) for rid in picked}
            log_before: dict[int, dict | None] = {}
            stage_changes: list[str] = []
            for rid in to_update:
                touch(store[rid], now_ms)
                if store[rid].get("amount") is not None:
                    store[rid]["amount"] = str(Decimal(store[rid]["amount"]) + Decimal("1000.00"))
                if advance_stage and api_name(obj) == "OpportunityObj":
                    entry = self._advance_stage(store[rid], now_ms)
                    if entry:
                        stage_changes.append(entry[0])
                        log_before[entry[1]] = None
            for rid in to_invalidate:
                touch(store[rid], now_ms)
                store[rid]["life_status"] = "invalid"
            for rid in to_delete:
                del store[rid]
            created = []
            for n in range(create):
                if not live:
                    raise ValueError(f"no {obj} row to copy")
                template = store[rng.choice(live)]
                rec = copy.deepcopy(template)
                rec["_id"] = (
                    f"{now_ms // 1000 & 0xFFFFFFFF:08x}" + digest("sim", obj, self._state.sim_seq, n)[:16]
                )
                rec["name"] = f"{template.get('name') or ''}（新{self._state.sim_seq}-{n + 1}）"
                rec.update(create_time=now_ms, last_modified_time=now_ms, version="1", life_status="normal")
                before[store.add_new(rec)] = None
                created.append(rec["_id"])
            self._state.orders.moved(api_name(obj), store, before)
            self._state.orders.moved(CRM_LOG, self._state.data.objects[CRM_LOG], log_before)
            return {
                "object": api_name(obj),
                "at": now_ms,
                "created": created,
                "updated": to_update,
                "invalidated": to_invalidate,
                "deleted": to_delete,
                "stage_changes": stage_changes,
            }

    def _advance_stage(self, rec: dict, now_ms: int) -> tuple[str, int] | None:
        """Move an open opportunity to the next open stage and log it: the log entry's id and
        position; None if it is closed."""
        pipeline = self._company.pipelines["fxiaoke"]
        codes = {str(i + 1): (name, prob, cat) for i, (name, prob, cat) in enumerate(pipeline)}
        current = codes.get(str(rec.get("sales_stage")))
        nxt = codes.get(str(int(rec["sales_stage"]) + 1)) if current else None
        if not current or current[2] != "open" or not nxt or nxt[2] != "open":
            return None
        old_code, new_code = str(rec["sales_stage"]), str(int(rec["sales_stage"]) + 1)
        rec.update(sales_stage=new_code, sales_stage__r=nxt[0], probability=str(nxt[1]))
        log = self._state.data.objects[CRM_LOG]
        entry_id = f"{now_ms // 1000 & 0xFFFFFFFF:08x}" + digest("stage", rec["_id"], now_ms, len(log))[:16]
        at = log.add_new(
            {
                "_id": entry_id,
                "apiName": "OpportunityObj",
                "objectId": rec["_id"],
                "objectName": rec.get("name"),
                "operationType": "修改",
                "fieldApiName": "sales_stage",
                "fieldLabel": "销售阶段",
                "oldValue": old_code,
                "oldValue__r": current[0],
                "newValue": new_code,
                "newValue__r": nxt[0],
                "operateTime": now_ms,
                "operator": list(rec.get("owner") or [SYSTEM_USER]),
                "operator__r": rec.get("owner__r"),
            }
        )
        return entry_id, at
