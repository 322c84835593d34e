"""`python3 -m unittest`: the logic with a calendar given here, no hub needed."""

import datetime
import unittest

import logic


def add_working_days(start, days):
    """A calendar where Saturdays and Sundays are the only days off (the hub's follows
    the official production calendar)."""
    d = datetime.date(*start)
    while d.weekday() >= 5:
        d += datetime.timedelta(days=1)
    while days > 0:
        d += datetime.timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return (d.year, d.month, d.day)


# Thursday 26 November 2026, 10:00 Moscow time.
RECEIVED = int(datetime.datetime(2026, 11, 26, 7, 0, tzinfo=datetime.timezone.utc).timestamp() * 1000)


class Decide(unittest.TestCase):
    def test_the_deadline_counts_working_days(self):
        out = logic.decide(RECEIVED, [], "2", add_working_days, 180)
        # Thursday + 2 working days = Monday 30 November, to its end in Moscow.
        self.assertEqual(logic.local_date(out.answer_deadline, 180), (2026, 11, 30))
        end = datetime.datetime(2026, 11, 30, 20, 59, 59, 999000, tzinfo=datetime.timezone.utc)
        self.assertEqual(out.answer_deadline, int(end.timestamp() * 1000))
        self.assertFalse(out.high)

    def test_urgent_appeals_are_high(self):
        out = logic.decide(RECEIVED, ["urgent"], None, add_working_days, 180)
        self.assertTrue(out.high)
        self.assertEqual(out.reasons, ["10 working days", "tagged urgent"])

    def test_a_bad_days_is_a_config_error(self):
        with self.assertRaises(logic.ConfigError):
            logic.decide(RECEIVED, [], "ten", add_working_days, 180)


if __name__ == "__main__":
    unittest.main()
