"""Quiet hours: `HH:MM-HH:MM` in the workspace's time zone, start inclusive, end exclusive, wrapping midnight."""

from __future__ import annotations

from datetime import time

import pytest

from webapp.errors import BadRequest
from webapp.notify import services as notify


@pytest.mark.parametrize(("quiet", "clock", "expected"), [
    ("22:00-08:00", time(22, 0), True), ("22:00-08:00", time(23, 59), True), ("22:00-08:00", time(0, 0), True),
    ("22:00-08:00", time(7, 59), True), ("22:00-08:00", time(8, 0), False), ("22:00-08:00", time(21, 59), False),
    ("22:00-08:00", time(12, 0), False), ("13:00-14:30", time(13, 0), True), ("13:00-14:30", time(14, 29), True),
    ("13:00-14:30", time(14, 30), False), ("13:00-14:30", time(12, 59), False), (None, time(3, 0), False),
    ("00:00-23:59", time(23, 58), True), ("23:59-00:00", time(23, 59), True), ("23:59-00:00", time(0, 0), False),
])
def test_quiet_hours_start_inclusive_end_exclusive_and_overnight_ranges_wrap(quiet, clock, expected):
    assert notify.in_quiet_hours(quiet, clock) is expected


@pytest.mark.parametrize("text", ["22-08", "22:00", "22:00-8:00", "24:00-08:00", "22:60-08:00", "22:00 - 08:00",
                                  "10:00-10:00", "ab:cd-ef:gh", "22:00-08:00-09:00"])
def test_an_invalid_quiet_hours_value_is_a_400_saying_the_expected_format(text):
    with pytest.raises(BadRequest) as caught:
        notify.parse_quiet_hours(text)
    assert "HH:MM-HH:MM" in caught.value.message and caught.value.status == 400
