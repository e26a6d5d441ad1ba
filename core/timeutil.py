from datetime import UTC, datetime


def isoformat_z(value: datetime | None) -> str | None:
    """UTC with a `Z` suffix and milliseconds: the only form the Hub client's parser accepts."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
