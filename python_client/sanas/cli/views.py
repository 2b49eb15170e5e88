"""What the CLI prints: tables, times, counts and the one-record form of a trial (the
same fields `sanas trials --json` writes)."""

from __future__ import annotations

import time
from typing import Any

from ..dashboard.index import STATE_NAMES, reward_of
from ..v1 import sanas_pb2 as pb

# The CLI's and the dashboard's names of the trial states (`--state` choices).
STATES = {name: state for state, name in STATE_NAMES.items()}


def state_name(value: int, enum: Any = pb.TrialState) -> str:
    name = enum.Name(value)
    return name.split("_STATE_", 1)[-1].lower()


def seconds(ts: Any) -> float | None:
    return ts.seconds + ts.nanos / 1e9 if ts.seconds or ts.nanos else None


def when(value: float | None) -> str:
    return "-" if value is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_reward(study: pb.Study, field: str) -> str:
    return f"{getattr(study, field):.6g}" if study.HasField(field) else "-"


# How `status` names a TrialCounts field, where the field's own name is not the word.
COUNT_WORDS = {"active": "running"}


def counts_text(counts: pb.TrialCounts) -> str:
    """'10 (1 running, 5 succeeded, 1 infeasible, 3 stopped, 0 skipped)': the trials, by state.
    Every field of TrialCounts, read from its descriptor, so that a state added to the
    proto is counted here too (stopped trials were once left out, and the parts did not
    add up to the budget used)."""
    parts = [
        (COUNT_WORDS.get(f.name, f.name), getattr(counts, f.name)) for f in counts.DESCRIPTOR.fields
    ]
    total = sum(n for _, n in parts)
    return f"{total} ({', '.join(f'{n} {word}' for word, n in parts)})"


def trainers_of(trials: list[pb.Trial], lease: float) -> list[list[Any]]:
    seen: dict[str, list[Any]] = {}
    for t in trials:
        contact = max(
            x
            for x in (
                seconds(t.create_time),
                seconds(t.complete_time),
                # An active trial's lease is renewed by heartbeats: its last renewal.
                (seconds(t.lease_expire_time) or 0) - lease
                if not t.HasField("complete_time")
                else 0,
            )
            if x is not None
        )
        row = seen.setdefault(t.client_id, [t.client_id, 0, 0, 0.0])
        row[1] += 1
        row[2] += t.state == pb.TRIAL_STATE_ACTIVE
        row[3] = max(row[3], contact)
    return sorted(seen.values(), key=lambda r: -r[3])


def trial_record(t: pb.Trial) -> dict[str, Any]:
    return {
        "trial_id": t.trial_id,
        "state": state_name(t.state),
        # A stopped trial's last value is a reward only when the study judged it as one.
        "reward": reward_of(t),
        "last_step": t.measurements[-1].step if t.measurements else None,
        "last_value": t.measurements[-1].value if t.measurements else None,
        "max_step": t.max_step or None,
        "stop_reason": t.stop_reason,
        "accepted": t.accepted,
        "temperature": t.temperature,
        "client_id": t.client_id,
        "issue_count": t.issue_count,
        "create_time": seconds(t.create_time),
        "complete_time": seconds(t.complete_time),
        "tokens": list(t.tokens),
    }


def step_text(record: dict[str, Any]) -> str:
    """The last reported step, of the planned ones: 3/10."""
    if record["last_step"] is None:
        return ""
    return f"{record['last_step']}/{record['max_step'] or '?'}"
