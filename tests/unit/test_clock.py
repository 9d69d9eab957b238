from datetime import UTC, datetime, timedelta

from automl.clock import utc_now


def test_moments_are_utc_iso_8601_with_the_offset() -> None:
    text = utc_now()
    moment = datetime.fromisoformat(text)
    assert text.endswith("+00:00") and moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=5)
