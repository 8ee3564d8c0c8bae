"""Evaluating the alert rules on the dashboard's health function and recording transitions.

Both the scheduler leader (every rule, every tick) and the API watchdog (the liveness rules)
call `evaluate`; a transaction-level advisory lock serialises them, so one transition is
recorded (and announced) once whoever sees it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vitaltrust.alerts import sql
from vitaltrust.alerts.emit import emit_alert
from vitaltrust.alerts.rules import RULES, Observation, Rule, State, Timing, step
from vitaltrust.config import Settings
from vitaltrust.db import Conn
from vitaltrust.monitoring.health import (
    HealthReport,
    HealthThresholds,
    judge_health,
    measure_health_signals,
)


@dataclass(frozen=True)
class Transition:
    rule: str
    event: str
    history_id: int
    event_id: int


def timing_for(rule: Rule, settings: Settings) -> Timing:
    if rule.liveness:
        hold = settings.alert_liveness_seconds
        if hold is None:
            hold = settings.scheduler_interval_seconds / 2
        return Timing(hold, hold, 0.0)
    return Timing(settings.alert_min_duration_seconds, settings.alert_resolve_seconds,
                  settings.alert_hysteresis_pct)


def observations(report: HealthReport) -> dict[str, Observation]:
    out: dict[str, Observation] = {}
    for f in report.findings:
        value = float(f.value) if isinstance(f.value, int | float) else None
        threshold = float(f.threshold) if isinstance(f.threshold, int | float) else None
        out[f.key] = Observation(f.status != "ok", value, threshold, f.message)
    return out


def inhibited_rules(seen: dict[str, Observation]) -> set[str]:
    """No live worker implies no leader: one incident, one page (the worker alert)."""
    workers = seen.get("live_workers")
    return {"leader_missing"} if workers is not None and workers.bad else set()


def _state(row: dict[str, Any]) -> State:
    return State(row["status"], row["since"], row["fired_at"], row["value"], row["threshold"],
                 row["message"])


async def evaluate(conn: Conn, settings: Settings, *, by: str, rules: Iterable[Rule] = RULES,
                   report: HealthReport | None = None) -> list[Transition]:
    """One evaluation in the caller's transaction; returns the transitions it announced."""
    await conn.execute(sql.LOCK_STATES)
    if report is None:
        signals = await measure_health_signals(conn, window_seconds=settings.alert_window_seconds)
        report = judge_health(signals, HealthThresholds.from_settings(settings))
    seen = observations(report)
    inhibited = inhibited_rules(seen)
    now_row = await (await conn.execute("SELECT now() AS now")).fetchone()
    assert now_row is not None
    now: datetime = now_row["now"]
    prev = {r["rule"]: _state(r) for r in await (await conn.execute(sql.LOAD_STATES)).fetchall()}
    out: list[Transition] = []
    for rule in rules:
        obs = seen.get(rule.finding)
        if obs is None:
            continue
        if rule.name in inhibited:
            old = prev.get(rule.name)
            if old is not None and old.status in ("firing", "resolving"):
                continue  # keep it as it is until the inhibiting alert is gone
            obs = Observation(False, obs.value, obs.threshold, obs.message)
        new, event = step(rule, prev.get(rule.name), obs, now, timing_for(rule, settings))
        await conn.execute(sql.SAVE_STATE, {
            "rule": rule.name, "status": new.status, "severity": rule.severity,
            "since": new.since, "fired_at": new.fired_at, "value": new.value,
            "threshold": new.threshold, "message": new.message, "by": by})
        if event is None:
            continue
        announced = new if event == "firing" else State(
            new.status, new.since, prev[rule.name].fired_at if rule.name in prev else None,
            new.value, new.threshold, new.message)
        hist = await (await conn.execute(sql.INSERT_HISTORY, {
            "rule": rule.name, "event": event, "severity": rule.severity, "value": new.value,
            "threshold": new.threshold, "message": new.message, "by": by})).fetchone()
        assert hist is not None
        event_id, _ = await emit_alert(conn, rule, event, announced, now, settings)
        out.append(Transition(rule.name, event, int(hist["history_id"]), event_id))
    return out
