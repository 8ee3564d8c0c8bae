"""Alert rules over the health findings, and each rule's state machine. Pure: no I/O.

A rule follows one finding of `judge_health` (the function behind the dashboard):

    ok --bad--> pending --bad for fire_after--> FIRING --cleared--> resolving
       <--not bad--               <--not cleared (back to firing)--   |
    ok <------------------- cleared for resolve_after ----------------+  (RESOLVED)

"bad" is the finding's status (warn or critical). "cleared" is stricter (hysteresis): the
finding is ok AND its value is back inside the threshold by `hysteresis_pct` percent of the
distance from the threshold to the ideal value (0 for counts/ages/failure rates, 100 for
success/share percentages), so a value hovering at the threshold cannot page twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Status = Literal["ok", "pending", "firing", "resolving"]
Event = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Rule:
    name: str
    finding: str              # the Finding.key it follows
    title: str
    severity: Literal["warning", "critical"]
    higher_is_bad: bool
    ideal: float | None       # None: no value hysteresis (a yes/no condition)
    liveness: bool = False    # watched by the API watchdog, delivered directly


RULES: tuple[Rule, ...] = (
    Rule("queue_backlog", "pending", "Job queue backlog", "critical", True, 0.0),
    Rule("queue_oldest_pending", "oldest_pending", "Oldest pending job too old", "critical",
         True, 0.0),
    Rule("job_failure_rate", "failed_rate", "Job failure rate high", "critical", True, 0.0),
    Rule("webhook_success", "webhook_success", "Webhook success rate low", "critical", False,
         100.0),
    Rule("no_live_worker", "live_workers", "No live worker", "critical", False, None,
         liveness=True),
    Rule("leader_missing", "leader", "Scheduler leader missing", "critical", False, None,
         liveness=True),
    Rule("excellent_share", "excellent_share", "Excellent-confidence share low", "warning",
         False, 100.0),
)
RULES_BY_NAME = {r.name: r for r in RULES}


@dataclass(frozen=True)
class Observation:
    """What the health function said about a rule's finding at one evaluation."""
    bad: bool
    value: float | None
    threshold: float | None
    message: str


@dataclass(frozen=True)
class State:
    status: Status
    since: datetime
    fired_at: datetime | None = None
    value: float | None = None
    threshold: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Timing:
    fire_after: float      # seconds the condition must hold before firing
    resolve_after: float   # seconds it must stay cleared before resolving
    hysteresis_pct: float


def cleared(rule: Rule, obs: Observation, hysteresis_pct: float) -> bool:
    if obs.bad:
        return False
    if rule.ideal is None or obs.value is None or obs.threshold is None:
        return True
    margin = abs(obs.threshold - rule.ideal) * hysteresis_pct / 100.0
    if rule.higher_is_bad:
        return obs.value <= obs.threshold - margin
    return obs.value >= obs.threshold + margin


def _at(status: Status, since: datetime, fired_at: datetime | None, obs: Observation) -> State:
    return State(status, since, fired_at, obs.value, obs.threshold, obs.message)


def step(rule: Rule, prev: State | None, obs: Observation, now: datetime, timing: Timing
         ) -> tuple[State, Event | None]:
    """The rule's next state and the event to announce (if any)."""
    if prev is None:
        prev = State("ok", now)
    status = prev.status
    held = (now - prev.since).total_seconds()
    same = _at(prev.status, prev.since, prev.fired_at, obs)
    if status == "ok":
        if not obs.bad:
            return same, None
        if timing.fire_after <= 0:
            return _at("firing", now, now, obs), "firing"
        return _at("pending", now, None, obs), None
    if status == "pending":
        if not obs.bad:
            return _at("ok", now, None, obs), None
        if held >= timing.fire_after:
            return _at("firing", now, now, obs), "firing"
        return same, None
    is_clear = cleared(rule, obs, timing.hysteresis_pct)
    if status == "firing":
        if not is_clear:
            return same, None
        if timing.resolve_after <= 0:
            return _at("ok", now, None, obs), "resolved"
        return _at("resolving", now, prev.fired_at, obs), None
    # resolving
    if not is_clear:
        return _at("firing", now, prev.fired_at, obs), None
    if held >= timing.resolve_after:
        return _at("ok", now, None, obs), "resolved"
    return same, None
