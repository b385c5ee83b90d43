"""Where an extract came from: the provenance file beside it, ``<extract>.provenance.json``.

The synthetic generator writes one beside every extract it makes, saying
``"synthetic": true``; a supplier of real data may write the same with
``"synthetic": false``. A run reads it to know whether its data are synthetic,
and then marks every page it publishes as such. The file is input like any
other: one that is not what this module describes is refused with one clear
message naming it, never half read. The format is in ``docs/episode-extract.md``
("Provenance file").

Examples
--------
>>> import tempfile
>>> extract = Path(tempfile.mkdtemp()) / "demo.csv"
>>> read_provenance(extract) is None  # no provenance file: nothing is known
True
>>> written = write_provenance(extract, {"synthetic": True, "generator": "toolkit.synthetic", "seed": 7})
>>> written.name, read_provenance(extract)
('demo.csv.provenance.json', {'synthetic': True, 'generator': 'toolkit.synthetic', 'seed': 7})
>>> _ = written.write_text('{"synthetic": "yes"}')
>>> read_provenance(extract)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
toolkit.errors.ToolkitError: .../demo.csv.provenance.json: not a usable provenance file: "synthetic" must be ...
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.store import format_json, write_atomically

__all__ = ["PROVENANCE_SUFFIX", "PROVENANCE_FIELDS", "provenance_path", "read_provenance", "write_provenance"]

PROVENANCE_SUFFIX = ".provenance.json"

# Every field the toolkit reads, with the JSON types it accepts; only "synthetic" is required. Other
# fields may be present and are left unread, so nothing unchecked travels on into run.json.
PROVENANCE_FIELDS = {
    "synthetic": (bool,),
    "generator": (str,),
    "toolkit_version": (str,),
    "year": (int,),
    "years": (int,),
    "seed": (int,),
    "scale": (int, float),
    "extract_date": (str,),
    "dialect": (str,),
}
# A provenance file is a few hundred bytes: a bound keeps a stray large file from being read whole.
_MAX_BYTES = 64 * 1024
_MAX_TEXT = 200


def provenance_path(extract: str | Path) -> Path:
    """The provenance file of ``extract``: its full name followed by ``.provenance.json``.

    Examples
    --------
    >>> provenance_path("data/synthetic/demo_2024.csv").as_posix()
    'data/synthetic/demo_2024.csv.provenance.json'
    """
    extract = Path(extract)
    return extract.with_name(extract.name + PROVENANCE_SUFFIX)


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:  # {"synthetic": true, "synthetic": false} would otherwise mean whatever came last
        raise ValueError(f"it gives {', '.join(map(repr, repeated))} more than once")
    return dict(pairs)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _check_record(record: object) -> dict:
    """The fields the toolkit reads, checked; ValueError says what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"it must hold a JSON object, not {type(record).__name__}")
    if "synthetic" not in record:
        raise ValueError('it must say "synthetic": true or false')
    checked = {}
    for name, types in PROVENANCE_FIELDS.items():
        if name not in record:
            continue
        value = record[name]
        # bool is a subclass of int in Python: a seed of `true` is refused, as is a "synthetic" of 1.
        if isinstance(value, bool) != (types == (bool,)) or not isinstance(value, types):
            expected = {(bool,): "true or false", (str,): "text", (int,): "a whole number"}.get(types, "a number")
            raise ValueError(f'"{name}" must be {expected}, not {value!r}'[:_MAX_TEXT])
        if isinstance(value, str) and len(value) > _MAX_TEXT:
            raise ValueError(f'"{name}" is longer than {_MAX_TEXT} characters')
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f'"{name}" must be a finite number')
        checked[name] = value
    return checked


def read_provenance(extract: str | Path) -> dict | None:
    """The provenance recorded beside ``extract``, or None when it has no provenance file.

    Returns
    -------
    dict or None
        The fields of :data:`PROVENANCE_FIELDS` the file gives, checked; other
        fields are not returned.

    Raises
    ------
    ToolkitError
        The file cannot be read, is not JSON, or a field has the wrong type;
        the message names the file.
    """
    path = provenance_path(extract)
    if not path.exists():
        return None
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise ValueError(f"it is larger than {_MAX_BYTES // 1024} KiB")
        text = path.read_bytes().decode("utf-8-sig")
        record = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
        return _check_record(record)
    except (OSError, ValueError) as error:  # UnicodeDecodeError and json.JSONDecodeError are ValueErrors
        if isinstance(error, UnicodeDecodeError):
            reason = "it is not UTF-8 text"
        elif isinstance(error, json.JSONDecodeError):
            reason = f"it is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        else:
            reason = str(error)
        raise ToolkitError(
            f"{path}: not a usable provenance file: {reason} "
            '(see docs/episode-extract.md, "Provenance file"); correct it or remove it'
        ) from None


def write_provenance(extract: str | Path, record: dict) -> Path:
    """Write ``record`` as the provenance file of ``extract``, atomically; return its path.

    Raises
    ------
    ValueError
        ``record`` is not one :func:`read_provenance` would accept.
    """
    _check_record(record)
    path = provenance_path(extract)
    write_atomically(path, format_json(record))
    return path
