"""{{name}}: gives an appeal an answer deadline of `days` working days (10 unless the
config says otherwise) on the production calendar, and a high priority when a classifier
tagged it `urgent`."""

import datetime
from dataclasses import dataclass
from typing import Callable, Optional

MS_PER_DAY = 86_400_000


class ConfigError(Exception):
    """A setting the plugin cannot use."""


@dataclass
class Outcome:
    high: bool
    answer_deadline: int
    reasons: list[str]


def local_date(at: int, offset_minutes: int) -> tuple[int, int, int]:
    """The hub-local date of a timestamp (milliseconds since the epoch, UTC)."""
    d = datetime.datetime.fromtimestamp(0, datetime.timezone.utc) + datetime.timedelta(
        milliseconds=at + offset_minutes * 60_000
    )
    return (d.year, d.month, d.day)


def end_of_local_day(date: tuple[int, int, int], offset_minutes: int) -> int:
    """The last millisecond of a hub-local date: a deadline "by the end of that day"."""
    days = datetime.date(*date).toordinal() - datetime.date(1970, 1, 1).toordinal()
    return (days + 1) * MS_PER_DAY - 1 - offset_minutes * 60_000


def decide(
    received_at: int,
    tags: list[str],
    days_setting: Optional[str],
    add_working_days: Callable[[tuple[int, int, int], int], tuple[int, int, int]],
    offset_minutes: int,
) -> Outcome:
    try:
        days = 10 if days_setting is None else int(days_setting.strip())
    except ValueError:
        raise ConfigError(f"`days` must be a whole number, got {days_setting!r}")
    if days < 0:
        raise ConfigError(f"`days` must be a whole number, got {days_setting!r}")
    urgent = "urgent" in tags
    due = add_working_days(local_date(received_at, offset_minutes), days)
    reasons = [f"{days} working days"] + (["tagged urgent"] if urgent else [])
    return Outcome(high=urgent, answer_deadline=end_of_local_day(due, offset_minutes), reasons=reasons)
