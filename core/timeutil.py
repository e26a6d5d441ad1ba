from datetime import UTC, datetime
from typing import overload


@overload
def isoformat_z(value: datetime) -> str: ...
@overload
def isoformat_z(value: None) -> None: ...
@overload
def isoformat_z(value: datetime | None) -> str | None: ...
def isoformat_z(value: datetime | None) -> str | None:
    """UTC with a `Z` suffix and milliseconds: the only form the Hub client's parser accepts."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"  # less "+00:00"
