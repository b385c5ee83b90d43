"""Exceptions the toolkit raises for problems a user can fix.

The command line turns any :class:`ToolkitError` into one clear message and a
non-zero exit; anything else is a bug in the toolkit.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """A problem with the user's input or configuration, stated plainly."""


class UnknownForceError(ToolkitError):
    """A force code that is not one of the 43 territorial forces."""


class ExtractError(ToolkitError):
    """An extract that cannot be read at all (wrong type, empty, unreadable)."""


class ValidationError(ToolkitError):
    """An extract that was read but breaks the input contract.

    Parameters
    ----------
    message : str
        One-line summary.
    problems : pandas.DataFrame
        Every problem found, one row each (see ``toolkit.ingest.extract.PROBLEM_COLUMNS``).
    """

    def __init__(self, message: str, problems):
        super().__init__(message)
        self.problems = problems


class ConfigError(ToolkitError):
    """A configuration file (comparator groups, planted effects) that is not usable."""
