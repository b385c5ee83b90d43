"""The extract date: parsed once, at the edge, into one type with one meaning.

An extract is taken on a day and holds what the force had recorded by the end
of that day. Every rule that depends on it (a report after the extract date is
impossible; an episode open at the extract date is censored there; an
interview is only expected of a return 72 hours or 28 days before it) measures
from one moment, :attr:`ExtractDate.end`, the last instant of that day.

Examples
--------
>>> extract = ExtractDate.parse("2025-01-31")
>>> extract.end
Timestamp('2025-01-31 23:59:59.999999')
>>> extract.before(days=28)
Timestamp('2025-01-03 23:59:59.999999')
>>> ExtractDate.parse(extract) is extract, str(extract)
(True, '2025-01-31')
>>> ExtractDate.parse("31/01/2025")
Traceback (most recent call last):
...
toolkit.errors.ToolkitError: extract date '31/01/2025' is not a date (YYYY-MM-DD)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import pandas as pd

from toolkit.errors import ToolkitError

__all__ = ["ExtractDate"]


@dataclass(frozen=True, order=True)
class ExtractDate:
    """The day a force's data were taken.

    Parameters
    ----------
    day : datetime.date

    Use :meth:`parse` on anything a user or a file gave: it is the one parser.

    Examples
    --------
    >>> ExtractDate("2025-02-30")
    Traceback (most recent call last):
    ...
    toolkit.errors.ToolkitError: ExtractDate takes a datetime.date, not '2025-02-30': ExtractDate.parse reads text
    """

    day: date

    def __post_init__(self):
        # Built from anything but a day, it failed later and far away ('str' object has no attribute 'isoformat').
        if not isinstance(self.day, date) or isinstance(self.day, datetime):
            raise ToolkitError(f"ExtractDate takes a datetime.date, not {self.day!r}: ExtractDate.parse reads text")

    @classmethod
    def parse(cls, value: ExtractDate | date | str) -> ExtractDate:
        """An extract date from a date, an ISO 8601 date string (``YYYY-MM-DD``), or an extract date.

        Raises
        ------
        ToolkitError
            ``value`` is not a date, or is a date and time (an extract is taken on a day).
        """
        if isinstance(value, ExtractDate):
            return value
        if isinstance(value, date) and not isinstance(value, datetime):
            return cls(value)
        if isinstance(value, str):
            try:
                return cls(date.fromisoformat(value.strip()))
            except ValueError:
                pass
        raise ToolkitError(f"extract date {value!r} is not a date (YYYY-MM-DD)")

    @property
    def end(self) -> pd.Timestamp:
        """The last moment the extract covers: the end of its day."""
        return pd.Timestamp(datetime.combine(self.day, time.max))

    def before(self, days: float = 0, hours: float = 0) -> pd.Timestamp:
        """The moment ``days`` and ``hours`` before :attr:`end`: what happened by then is old enough to judge."""
        return self.end - pd.Timedelta(days=days, hours=hours)

    def isoformat(self) -> str:
        """``YYYY-MM-DD``."""
        return self.day.isoformat()

    def __str__(self) -> str:
        return self.isoformat()
