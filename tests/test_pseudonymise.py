"""Contract version 2 and `toolkit pseudonymise`: tokens checked, raw identifiers never written, keys kept apart."""

import hashlib
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.cli import main
from toolkit.ingest.clean import WITHHELD_TOKEN, clean_export
from toolkit.ingest.extract import read_extract_text, to_episodes, validate_extract
from toolkit.ingest.load import CLEAN_COLUMNS, load_export, read_cleaned
from toolkit.ingest.mapping import CANONICAL, read_mapping
from toolkit.ingest.pseudonymise import (
    RAW_COLUMNS,
    TOKEN_LABELS,
    make_tokens,
    normalise_dob,
    normalise_name,
    normalise_nhs_number,
    phonetic_code,
)
from toolkit.ingest.schema import LINKAGE_COLUMNS, LINKAGE_TOKENS, NOT_A_TOKEN, NOT_AN_LA_CODE, is_linkage_token
from toolkit.store import NationalStore

EXTRACT_DATE = "2025-01-31"
# Names with letters outside a-f, so that no raw value can turn up inside a hex token by chance.
FORENAMES = ["Oliver", "Zoë", "Muhammad", "Amelia", "Jayden", "Siân", "Harry", "Isla", "Tomasz", "Grace"]
SURNAMES = ["Smith", "O'Brien-Hall", "Khan", "Wiśniewski", "Jones", "Patel", "Murphy", "Nowak", "Taylor", "Lewis"]


def _nhs_number(rng) -> str:
    while True:
        digits = [int(d) for d in rng.integers(0, 10, 9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


@pytest.fixture()
def v1(small_extract):
    """Two hundred episodes of the small extract, as a version 1 extract (no linkage column) in text."""
    path, _, _ = small_extract
    return read_extract_text(path).head(200).drop(columns=list(LINKAGE_COLUMNS), errors="ignore")


@pytest.fixture()
def raw(v1):
    """The same with each child's raw identifiers, as a force holds them before pseudonymising."""
    rng = np.random.default_rng(3)
    children = v1["person_id"].unique()
    identity = pd.DataFrame(
        {
            "person_id": children,
            "forename": rng.choice(FORENAMES, len(children)),
            "surname": rng.choice(SURNAMES, len(children)),
            "date_of_birth": [
                f"20{rng.integers(7, 13):02d}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}" for _ in children
            ],
            "nhs_number": [_nhs_number(rng) if rng.random() < 0.6 else "" for _ in children],
        }
    )
    identity.loc[0, "date_of_birth"] = "2009-02-30"  # not a real date: no token, counted
    return v1.merge(identity, on="person_id", how="left")


def _write_key(path, text: bytes = b"0123456789abcdef0123456789abcdef") -> str:
    path.write_bytes(text)
    return str(path)


_NEAR_TOKENS = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=62, max_size=66),  # tokens and hashes cut or run on
    st.text(alphabet="0123456789abcdefABCDEFgz \n\u00e9\u20ac", min_size=0, max_size=66),  # case, letters past f, UTF-8
    st.just(""),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NEAR_TOKENS, min_size=1, max_size=40), st.integers(0, 5))
def test_a_token_is_what_the_contract_says_at_random_values(values, start):
    """Checked against the contract's words as a regular expression, independently of the byte lookup it uses,
    on sliced chunks and with missing values."""
    # Two Arrow chunks, as a read of a large file gives, each sliced so it does not start at its buffer's start.
    cut = len(values) // 2
    chunks = [
        pa.array(part + [None], type=pa.large_string())[min(start, len(part)) :]
        for part in (values[:cut], values[cut:])
    ]
    series = pd.Series(
        pd.arrays.ArrowStringArray(pa.chunked_array(chunks)), index=np.arange(100, 100 + sum(map(len, chunks)))
    )
    expected = [pd.notna(v) and (v == "" or re.fullmatch(r"[0-9a-f]{64}", v) is not None) for v in series]
    got = is_linkage_token(series)
    assert got.tolist() == expected
    assert got.index.equals(series.index)


def test_validate_lists_a_bad_token_and_a_bad_la_code(v1):
    extract = v1.assign(**{c: "" for c in LINKAGE_COLUMNS})
    extract.loc[3, "link_surname"] = "SMITH"
    extract.loc[4, "link_dob"] = "A" * 64  # upper case: not as pseudonymise writes
    extract.loc[5, "link_forename"] = "a" * 64
    extract.loc[6, "responsible_la"] = "Birmingham"
    extract.loc[7, "responsible_la"] = "E08000025"
    problems = validate_extract(extract, EXTRACT_DATE)
    found = set(zip(problems["row"], problems["column"], problems["problem"], strict=True))
    assert found == {
        (5, "link_surname", NOT_A_TOKEN),
        (6, "link_dob", NOT_A_TOKEN),
        (8, "responsible_la", NOT_AN_LA_CODE),
    }


def test_a_version_1_extract_is_valid_and_gets_blank_linkage_columns(v1):
    assert validate_extract(v1, EXTRACT_DATE).empty
    episodes = to_episodes(v1)
    assert episodes[list(LINKAGE_COLUMNS)].isna().all().all()


def test_cleaning_blanks_a_bad_token_keeps_the_episode_and_withholds_the_value(v1):
    extract = v1.assign(**{c: "" for c in LINKAGE_COLUMNS})
    extract.loc[3, "link_surname"] = "Wiśniewski"  # a raw surname sent in a token column by mistake
    extract.loc[4, "responsible_la"] = "e08000025"
    result = clean_export(extract, read_mapping(CANONICAL), EXTRACT_DATE)
    assert len(result.clean) + len(result.merged) + len(result.quarantine) == len(extract)
    bad = result.changes[result.changes["rule"] == "bad_linkage_token"]
    assert bad[["source_row", "column", "before"]].values.tolist() == [[5, "link_surname", WITHHELD_TOKEN]]
    row = result.clean.set_index("source_row")
    assert pd.isna(row.loc[5, "link_surname"]) and row.loc[6, "responsible_la"] == "E08000025"
    logs = pd.concat([result.changes.astype(str), result.quarantine.astype(str)]).to_csv()
    assert "Wiśniewski" not in logs


def test_a_store_made_under_version_1_gains_the_linkage_columns_empty(tmp_path, v1):
    store = tmp_path / "store.duckdb"
    version_1 = {c: kind for c, kind in CLEAN_COLUMNS.items() if c not in LINKAGE_COLUMNS}
    with NationalStore.open(store, write=True, clean_columns=version_1):
        pass
    path = tmp_path / "v1.csv"
    v1.to_csv(path, index=False)
    load_export(path, EXTRACT_DATE, store=store)
    clean = read_cleaned(store).result.clean
    assert len(clean) == 200 and set(LINKAGE_COLUMNS) <= set(clean.columns)
    assert clean[list(LINKAGE_COLUMNS)].isna().all().all()


def test_normalising_is_as_the_contract_says():
    assert normalise_name("Zoë O'Brien-Hall") == "ZOEOBRIENHALL"
    assert normalise_name("Siân") == "SIAN" and normalise_name("Wiśniewski") == "WISNIEWSKI"
    assert normalise_dob("2009-02-30") == "" and normalise_dob("20090307") == "" and normalise_dob("2009-3-7") == ""
    assert normalise_nhs_number("943 476 5919") == "9434765919" and normalise_nhs_number("9434765918") == ""
    assert phonetic_code("CATHERINE") == phonetic_code("KATHERINE")


def test_pseudonymise_leaves_no_raw_value_and_no_unkeyed_hash(tmp_path, raw, capsys):
    source = tmp_path / "raw.csv"
    raw.to_csv(source, index=False)
    out = tmp_path / "extract.csv"
    assert main(["pseudonymise", str(source), "--key-file", _write_key(tmp_path / "k"), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "1 not a real ISO date" in said and "forename, surname, date_of_birth, nhs_number" in said
    written = out.read_bytes()
    values = set()
    for column in RAW_COLUMNS:
        values |= {v for v in raw[column] if v}
    normalised = {normalise_name(v) for v in raw["forename"]} | {normalise_name(v) for v in raw["surname"]}
    normalised |= {normalise_dob(v) for v in raw["date_of_birth"]} | {
        normalise_nhs_number(v) for v in raw["nhs_number"]
    }
    normalised |= {phonetic_code(normalise_name(v)) for v in raw["forename"]}
    normalised -= {""}
    for value in values | {v for v in normalised if len(v) > 3}:  # a phonetic 'KN' may be in an officer's id
        assert value.encode() not in written, value
    labelled = {f"{label}:{v}" for label in {*TOKEN_LABELS.values(), *TOKEN_LABELS} for v in normalised}
    for value in values | normalised | labelled:
        for algorithm in ("md5", "sha1", "sha256"):
            assert hashlib.new(algorithm, value.encode()).hexdigest().encode() not in written
    extract = read_extract_text(out)
    assert not set(RAW_COLUMNS) & set(extract.columns)
    assert validate_extract(extract, EXTRACT_DATE).empty
    assert (extract.loc[raw["date_of_birth"] == "2009-02-30", "link_dob"] == "").all()
    assert (extract["link_dob"] != "").sum() == (raw["date_of_birth"] != "2009-02-30").sum()


def test_the_same_key_gives_the_same_tokens_and_another_key_others(raw):
    first, _ = make_tokens(raw, b"k" * 32)
    again, _ = make_tokens(raw.sample(frac=1, random_state=1), b"k" * 32)
    other, _ = make_tokens(raw, b"j" * 32)
    pd.testing.assert_frame_equal(first, again.loc[first.index])
    filled = first != ""
    assert filled.to_numpy().sum() > 1000
    assert not (first.to_numpy()[filled.to_numpy()] == other.to_numpy()[filled.to_numpy()]).any()
    # A child's tokens are the same on all its episodes; equal names of the same kind give equal tokens.
    assert first.groupby(raw["person_id"]).nunique().max().max() == 1
    same = raw["forename"].map(normalise_name) == raw["surname"].map(normalise_name)
    assert ((first["link_forename"] == first["link_surname"]) == (same & filled["link_forename"])).all()
    # Values of different kinds never collide: a day is not a year, a name is not its phonetic code.
    assert not set(first["link_dob_year"]) & set(first["link_dob_day"]) - {""}
    assert not set(first["link_surname"]) & set(first["link_surname_phonetic"]) - {""}
    assert list(first.columns) == list(LINKAGE_TOKENS)


def test_a_short_key_file_is_refused_in_one_line(tmp_path, raw):
    source = tmp_path / "raw.csv"
    raw.to_csv(source, index=False)
    out = tmp_path / "extract.csv"
    key = _write_key(tmp_path / "short.key", b"31 bytes is not enough for it..")
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", "pseudonymise", str(source), "--key-file", key, "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and not out.exists()
    assert done.stderr.count("\n") == 1 and "holds 31 bytes; a linkage key is at least 32" in done.stderr


def test_an_extract_already_holding_tokens_is_refused(tmp_path, raw):
    tokens, _ = make_tokens(raw, b"k" * 32)
    source = tmp_path / "twice.csv"
    pd.concat([raw, tokens], axis=1).to_csv(source, index=False)
    key = _write_key(tmp_path / "k")
    assert main(["pseudonymise", str(source), "--key-file", key, "--out", str(tmp_path / "o.csv")]) == 1
