"""Pseudonymise at the force: a child's name, date of birth and NHS number become linkage tokens.

``python -m toolkit pseudonymise RAW.csv --key-file K --out EXTRACT.csv`` reads a
canonical extract that also holds the raw columns :data:`RAW_COLUMNS`, writes the
tokens of :data:`toolkit.ingest.schema.LINKAGE_TOKENS` and drops the raw columns
(and any other column the contract does not name). This is the one way tokens
are made: the synthetic generator calls :func:`make_tokens` too.

A token is the lowercase hex HMAC-SHA256 under the forces' shared key of
``LABEL:VALUE``, where ``LABEL`` is the kind of value (:data:`TOKEN_LABELS`) and
``VALUE`` the normalised value (:func:`normalise_name`, :func:`normalise_dob`,
:func:`normalise_nhs_number`). Without the key nobody can test a guess, so a
dictionary of names or dates reveals nothing; the label keeps values of
different kinds apart (docs/episode-extract.md says what each protects against).

Examples
--------
>>> key = b"an example key of at least 32 bytes!"
>>> raw = pd.DataFrame({"forename": ["Zoë", "zoe"], "surname": ["O'Brien-Hall", "OBRIENHALL"],
...                     "date_of_birth": ["2009-03-07", "2009-02-30"], "nhs_number": ["943 476 5919", ""]})
>>> tokens, counts = make_tokens(raw, key)
>>> tokens.loc[0, "link_forename"] == tokens.loc[1, "link_forename"], len(tokens.loc[0, "link_dob"])
(True, 64)
>>> tokens.loc[1, "link_dob"], counts["dob_invalid"], counts["nhs_number_present"]
('', 1, 1)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from datetime import date
from pathlib import Path

import jellyfish
import numpy as np
import pandas as pd

from toolkit.errors import ToolkitError
from toolkit.ingest.schema import COLUMNS, LINKAGE_COLUMNS, LINKAGE_TOKENS

__all__ = [
    "RAW_COLUMNS",
    "TOKEN_LABELS",
    "MIN_KEY_BYTES",
    "read_key",
    "normalise_name",
    "normalise_dob",
    "normalise_nhs_number",
    "normalise_nhs_numbers",
    "phonetic_code",
    "make_token",
    "make_tokens",
    "pseudonymise_extract",
]

# The raw columns a force adds to its canonical extract for pseudonymising, and never sends.
RAW_COLUMNS = ("forename", "surname", "date_of_birth", "nhs_number")
# The kind of value each token is made from: its label in the hash. Forename and surname share a kind, as do the
# day and the month of the date of birth, so that one written in the other's place still matches.
TOKEN_LABELS = {
    "link_national_key": "national_key",
    "link_dob": "dob",
    "link_dob_year": "dob_year",
    "link_dob_month": "dob_day_month",
    "link_dob_day": "dob_day_month",
    "link_forename": "name",
    "link_surname": "name",
    "link_forename_phonetic": "name_phonetic",
    "link_surname_phonetic": "name_phonetic",
    "link_forename_initial": "name_initial",
    "link_surname_initial": "name_initial",
}
MIN_KEY_BYTES = 32  # 256 bits: the size of SHA-256's own output, so the key is no weaker than the hash


def read_key(path: str | Path) -> bytes:
    """Read the forces' shared key: the whole file, as bytes, at least :data:`MIN_KEY_BYTES` of them.

    Raises
    ------
    ToolkitError
        The file cannot be read, or is too short to be a key.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "short.key"
    >>> _ = path.write_bytes(b"too short")
    >>> read_key(path)
    Traceback (most recent call last):
    ...
    toolkit.errors.ToolkitError: the key file ... holds 9 bytes; a linkage key is at least 32 random bytes ...
    """
    try:
        key = Path(path).read_bytes()
    except OSError as error:
        raise ToolkitError(f"cannot read the key file {path}: {error.strerror}") from None
    if len(key) < MIN_KEY_BYTES:
        raise ToolkitError(
            f"the key file {path} holds {len(key)} bytes; a linkage key is at least {MIN_KEY_BYTES} random bytes "
            f"(make one with: head -c {MIN_KEY_BYTES} /dev/urandom > linkage.key), the same file at every force"
        )
    return key


def normalise_name(name: str) -> str:
    """A name as it is hashed: decomposed (NFKD), accents stripped, upper case, letters only.

    Examples
    --------
    >>> normalise_name("Zoë O'Brien-Hall"), normalise_name("  mary jane "), normalise_name("-")
    ('ZOEOBRIENHALL', 'MARYJANE', '')
    """
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in plain.upper() if c.isalpha())


def normalise_dob(text: str) -> str:
    """A date of birth as it is hashed: the ISO date ``YYYY-MM-DD``, or ``""`` when it is not a real one.

    Examples
    --------
    >>> [normalise_dob(text) for text in ("2009-03-07", " 2009-03-07 ", "2009-02-30", "07/03/2009")]
    ['2009-03-07', '2009-03-07', '', '']
    """
    text = text.strip()
    if len(text) != 10:  # fromisoformat also reads 20090307 and week dates: the contract's form only
        return ""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return ""


def normalise_nhs_number(text: str) -> str:
    """An NHS number as it is hashed: its ten digits, or ``""`` when it has not ten or its check digit is wrong.

    The check digit (modulus 11, as NHS numbers carry) catches most mistyped numbers, which would otherwise
    link a child to nobody, or to someone else. :func:`normalise_nhs_numbers` does many at once.

    Examples
    --------
    >>> normalise_nhs_number("943 476 5919"), normalise_nhs_number("943-476-5918"), normalise_nhs_number("")
    ('9434765919', '', '')
    """
    return normalise_nhs_numbers(pd.Series([text])).iloc[0]


def normalise_nhs_numbers(values: pd.Series) -> pd.Series:
    """:func:`normalise_nhs_number` of many (text), vectorised: national keys are nearly all distinct.

    Examples
    --------
    >>> normalise_nhs_numbers(pd.Series(["9434765919", "943 476 591X", "94347659190"])).tolist()
    ['9434765919', '', '']
    """
    digits = values.astype(str).str.replace(r"[ -]", "", regex=True)
    shaped = digits.str.fullmatch(r"\d{10}").fillna(False).to_numpy(dtype=bool)
    matrix = np.zeros((len(values), 10), dtype=np.int64)
    if shaped.any():
        codes = np.frombuffer("".join(digits[shaped]).encode("ascii"), dtype=np.uint8).reshape(-1, 10)
        matrix[shaped] = codes - ord("0")
    check = 11 - (matrix[:, :9] * np.arange(10, 1, -1)).sum(axis=1) % 11
    check = np.where(check == 11, 0, check)
    valid = shaped & (check != 10) & (check == matrix[:, 9])
    return digits.where(valid, "").astype(str)


def phonetic_code(name: str) -> str:
    """The Metaphone code of a normalised name (jellyfish's), so that names spelt alike in sound match.

    Examples
    --------
    >>> phonetic_code("STEPHEN") == phonetic_code("STEVEN"), phonetic_code("")
    (True, '')
    """
    return jellyfish.metaphone(name).upper() if name else ""


def make_token(key: bytes, label: str, value: str) -> str:
    """One token: the hex HMAC-SHA256 of ``label:value`` under ``key``; ``""`` for a blank value.

    Examples
    --------
    >>> make_token(b"k" * 32, "name", "SMITH") == make_token(b"k" * 32, "name", "SMITH")
    True
    >>> make_token(b"k" * 32, "name", "SMITH") != make_token(b"j" * 32, "name", "SMITH")
    True
    >>> make_token(b"k" * 32, "name", "")
    ''

    """
    if not value:
        return ""
    return hmac.new(key, f"{label}:{value}".encode(), hashlib.sha256).hexdigest()


def _tokens_of(values: pd.Series, key: bytes, label: str) -> np.ndarray:
    """Tokens of many values, as :func:`make_token` makes each: each distinct value hashed once."""
    positions, distinct = pd.factorize(values.astype(str), use_na_sentinel=False)
    keyed = hmac.new(key, digestmod=hashlib.sha256)  # the key's padding hashed once, copied for each value
    hashed = []
    for value in distinct.tolist():
        if value:
            one = keyed.copy()
            one.update(f"{label}:{value}".encode())
            hashed.append(one.hexdigest())
        else:
            hashed.append("")
    return np.array(hashed, dtype=object)[positions] if len(values) else np.array([], dtype=object)


def make_tokens(raw: pd.DataFrame, key: bytes) -> tuple[pd.DataFrame, dict[str, int]]:
    """The linkage tokens of each row of raw identifiers.

    Parameters
    ----------
    raw : pandas.DataFrame
        Text columns of :data:`RAW_COLUMNS` (a missing one counts as blank): ``forename``, ``surname``,
        ``date_of_birth`` (ISO date), ``nhs_number``.
    key : bytes
        The forces' shared key (:func:`read_key`).

    Returns
    -------
    tokens : pandas.DataFrame
        One column per token of :data:`toolkit.ingest.schema.LINKAGE_TOKENS`, ``""`` where the value is blank
        or not valid, on ``raw``'s index.
    counts : dict
        ``rows``; ``dob_present``, ``dob_invalid`` (given but not a real ISO date); ``nhs_number_present``,
        ``nhs_number_invalid`` (given but not ten digits with the right check digit); ``forename_blank``,
        ``surname_blank`` (blank once normalised).
    """
    if len(key) < MIN_KEY_BYTES:
        raise ToolkitError(f"a linkage key is at least {MIN_KEY_BYTES} bytes, not {len(key)}")

    def column(name: str) -> pd.Series:
        values = raw[name] if name in raw.columns else pd.Series("", index=raw.index)
        return values.astype("string").fillna("").astype(str)

    def each(values: pd.Series, function) -> pd.Series:
        positions, distinct = pd.factorize(values, use_na_sentinel=False)
        done = np.array([function(value) for value in distinct.tolist()], dtype=object)
        return pd.Series(done[positions] if len(values) else [], index=values.index, dtype=object)

    forename = each(column("forename"), normalise_name)
    surname = each(column("surname"), normalise_name)
    dob_text = column("date_of_birth")
    dob = each(dob_text, normalise_dob)
    nhs_text = column("nhs_number")
    nhs = normalise_nhs_numbers(nhs_text)
    values = {
        "link_national_key": nhs,
        "link_dob": dob,
        "link_dob_year": dob.str.slice(0, 4),
        "link_dob_month": dob.str.slice(5, 7),
        "link_dob_day": dob.str.slice(8, 10),
        "link_forename": forename,
        "link_surname": surname,
        "link_forename_phonetic": each(forename, phonetic_code),
        "link_surname_phonetic": each(surname, phonetic_code),
        "link_forename_initial": forename.str.slice(0, 1),
        "link_surname_initial": surname.str.slice(0, 1),
    }
    tokens = pd.DataFrame(
        {name: _tokens_of(values[name], key, TOKEN_LABELS[name]) for name in LINKAGE_TOKENS}, index=raw.index
    )
    dob_given = dob_text.str.strip() != ""
    nhs_given = nhs_text.str.strip() != ""
    counts = {
        "rows": len(raw),
        "dob_present": int((dob != "").sum()),
        "dob_invalid": int((dob_given & (dob == "")).sum()),
        "nhs_number_present": int((nhs != "").sum()),
        "nhs_number_invalid": int((nhs_given & (nhs == "")).sum()),
        "forename_blank": int((forename == "").sum()),
        "surname_blank": int((surname == "").sum()),
    }
    return tokens, counts


def pseudonymise_extract(source: str | Path, key_file: str | Path, out: str | Path) -> dict:
    """Turn a raw canonical extract into a version 2 extract: tokens in, raw identifiers out.

    The output holds the contract's columns only, in its order: the raw columns, any linkage column
    the input had, and any column the contract does not name (it may hold an identifier) are left out,
    and listed. Written as CSV (UTF-8), atomically: an interrupted run leaves no half file.

    Parameters
    ----------
    source : path-like
        The raw extract (``.csv``, ``.parquet`` or ``.xlsx``): the contract's columns and :data:`RAW_COLUMNS`.
    key_file : path-like
        The forces' shared key (:func:`read_key`).
    out : path-like
        The ``.csv`` to write; not the source.

    Returns
    -------
    dict
        The counts of :func:`make_tokens`, and ``dropped``: the columns left out.

    Raises
    ------
    ToolkitError
        The key is too short; the output is the input or not a ``.csv``; the input has no raw identifier
        column, or already holds tokens.
    """
    from toolkit.ingest.extract import read_extract_text

    key = read_key(key_file)  # first: a wrong key is told before a large file is read
    source, out = Path(source), Path(out)
    if out.suffix.lower() != ".csv":
        raise ToolkitError(f"{out}: the pseudonymised extract is written as .csv")
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise ToolkitError(f"{out}: write the pseudonymised extract to a new file, not over the raw one")
    raw = read_extract_text(source)
    if not set(RAW_COLUMNS) & set(raw.columns):
        raise ToolkitError(
            f"{source}: no column to pseudonymise: give at least one of {', '.join(RAW_COLUMNS)} "
            "(a version 1 extract needs no pseudonymising)"
        )
    sent = [c for c in LINKAGE_COLUMNS[:-1] if c in raw.columns and (raw[c] != "").any()]
    if sent:
        raise ToolkitError(f"{source}: already holds linkage tokens ({', '.join(sent)}); give the raw extract")
    tokens, counts = make_tokens(raw, key)
    kept = {c: raw[c] for c in COLUMNS if c in raw.columns and c not in LINKAGE_TOKENS}
    kept.update(tokens)
    written = pd.DataFrame(kept, index=raw.index)[[c for c in COLUMNS if c in kept]]
    counts["dropped"] = [c for c in raw.columns if c not in written.columns]
    temporary = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        written.to_csv(temporary, index=False, encoding="utf-8", lineterminator="\n")
        temporary.replace(out)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ToolkitError(f"cannot write {out}: {error.strerror}") from None
    return counts
