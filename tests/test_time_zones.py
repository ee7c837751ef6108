"""/time zones: only real Area/Location names (and UTC), matched whatever the case."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from core.service import _checked_zone


@pytest.mark.parametrize("name", ["posixrules", "localtime", "Factory", "Etc/GMT+5", "posix/Europe/Berlin",
                                  "right/UTC", "GB", "EST5EDT", "Mars/Olympus", "", "../etc/passwd"])
def test_tz_database_oddities_are_refused_with_an_example(name: str) -> None:
    with pytest.raises(ValidationError, match="time zone like Europe/Berlin"):
        _checked_zone(name)


@pytest.mark.parametrize(("typed", "stored"), [
    ("Europe/Berlin", "Europe/Berlin"),
    ("europe/berlin", "Europe/Berlin"),
    (" AMERICA/NEW_YORK ", "America/New_York"),
    ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ("utc", "UTC"),
])
def test_area_location_names_are_accepted_in_any_case(typed: str, stored: str) -> None:
    assert _checked_zone(typed) == stored


def test_a_long_zone_word_is_echoed_clipped_so_the_reply_fits_a_chat_message() -> None:
    with pytest.raises(ValidationError) as refused:
        _checked_zone("Europe/" + "x" * 4000)
    assert len(str(refused.value)) < 200


def test_discord_offers_only_the_zones_time_accepts() -> None:
    from bot.discord_commands import _zones

    offered = _zones()
    assert "Europe/Berlin" in offered and "UTC" in offered
    assert not [z for z in offered if z.startswith(("Etc/", "posix/")) or ("/" not in z and z != "UTC")]
