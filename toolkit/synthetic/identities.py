"""Synthetic true identities, children who go missing in more than one force, and their linkage tokens.

Every synthetic child gets a true identity (forename, surname, date of birth, an
NHS-number-like national key and a responsible local authority). A share of
children (:data:`CROSS_FORCE_SHARE`, most of them looked after and placed out of
area) also go missing in one or two other forces: there they are another
force's child, with that force's own ``person_id``. Each force records the child
as forces do, with variation of its own: a typo, a nickname, forename and
surname the wrong way round, half a hyphenated surname, day and month of the
date of birth swapped, the national key not known. The record is then tokened by
:func:`toolkit.ingest.pseudonymise.make_tokens`, the one way tokens are made,
under :data:`DEMO_KEY`.

The children who go missing in another force are made from the generator's own
children: a child is joined to a child of another force like it (same sex, age
and looked-after status), whose episodes it then is. No draw of the generator
changes: every episode and every planted effect is as without linkage, and
the identities come from a random stream of their own.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> children = pd.DataFrame({"force_code": ["E23000001", "E23000002"] * 500, "sex": ["female"] * 1000,
...     "age": [15] * 1000, "looked_after": [True] * 1000, "out_of_area_placement": [False] * 1000,
...     "birthday": rng.random(1000), "person_id": [f"C{i}" for i in range(1000)]})
>>> records, truth = draw_identities(rng, children, year=2024, cross_force_share=0.03)
>>> truth["children"], truth["children_in_more_than_one_force"], len(records) == len(children)
(971, 29, True)
>>> len(records.loc[0, "link_dob"]), records.loc[0, "responsible_la"][:3]
(64, 'E06')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.forces import read_forces_table
from toolkit.ingest.pseudonymise import make_tokens
from toolkit.ingest.schema import LINKAGE_COLUMNS

__all__ = [
    "DEMO_KEY",
    "CROSS_FORCE_SHARE",
    "NATIONAL_KEY_MISSING",
    "VARIATION",
    "NICKNAMES",
    "draw_identities",
    "local_authorities",
]

# The key the generator tokens synthetic children with: written here, in public, so it is no secret and must
# never be used for real data (a real key is random, kept by the forces: docs/episode-extract.md).
DEMO_KEY = b"toolkit synthetic data only: this key is public, never use it for real children"
CROSS_FORCE_SHARE = 0.03  # of children, those who also go missing in another force
NATIONAL_KEY_MISSING = 0.5  # of force records, those without the national key
LOOKED_AFTER_WEIGHT = 10.0  # how much likelier a looked-after child is to be one of them than another child
PLACED_OUT_WEIGHT = 30.0  # and a looked-after child placed out of area
THIRD_FORCE_SHARE = 0.15  # of the children in more than one force, those in three
# How often a force records each part of a child's identity otherwise than it is, per force record.
VARIATION = {
    "forename_typo": 0.03,
    "nickname": 0.05,  # of children whose name has a nickname in NICKNAMES
    "surname_typo": 0.03,
    "hyphen_dropped": 0.35,  # of hyphenated surnames: one half only
    "names_swapped": 0.01,
    "day_month_swapped": 0.015,  # of dates whose day could be a month
    "dob_typo": 0.005,  # a day one out
    "la_blank": 0.03,
}
HYPHENATED_SHARE = 0.04

BOYS = (
    "Oliver Jack Harry Jacob Charlie Thomas George Oscar James William Noah Alfie Joshua Muhammad Henry Leo "
    "Archie Ethan Joseph Freddie Samuel Alexander Logan Daniel Isaac Max Mohammed Benjamin Mason Lucas Edward "
    "Harrison Jake Dylan Riley Finley Theo Sebastian Adam Zachary Arthur Toby Jayden Luke Harley Lewis Tyler "
    "Harvey Matthew David Reuben Michael Elijah Kian Tommy Mohammad Blake Luca Theodore Stanley Jenson Nathan "
    "Charles Frankie Jude Teddy Louie Louis Ryan Hugo Bobby Elliott Dexter Ollie Alex Liam Kai Gabriel Connor "
    "Aaron Frederick Callum Elliot Albert Leon Ronnie Rory Jamie Austin Seth Ibrahim Owen Caleb Ellis Sonny "
    "Robert Joey Felix Finlay Jackson Kyle Ben Bradley Cameron Corey Kieran Jordan Brandon Aidan Nicholas"
).split()
GIRLS = (
    "Amelia Olivia Lily Jessica Emily Sophie Ruby Grace Ava Isabella Evie Chloe Mia Poppy Ella Isla Sophia "
    "Charlotte Isabelle Daisy Lucy Freya Phoebe Holly Megan Ellie Millie Sienna Scarlett Erin Lola Eva Summer "
    "Imogen Layla Hannah Amy Matilda Jasmine Molly Eleanor Lilly Alice Maisie Rosie Maya Harriet Elizabeth "
    "Katie Lauren Abigail Amber Georgia Caitlin Bethany Leah Niamh Zara Paige Libby Madison Emma Rebecca "
    "Samantha Hollie Courtney Shannon Chelsea Jade Aaliyah Aisha Fatima Ayesha Zainab Maryam Tegan Keira "
    "Kayla Jorja Gracie Elsie Esme Florence Willow Violet Heidi Bella Eloise Victoria Kate Katherine Natalie "
    "Nicole Demi Alisha Nadia Skye Tia Alexandra Jennifer"
).split()
SURNAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
    "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
    "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price "
    "Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox "
    "Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers "
    "Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell "
    "Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard "
    "Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson "
    "Bradley Spencer Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant Wells Armstrong Francis "
    "Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page Marsh Riley Dunn Woods Parsons "
    "Berry Stone Reid Holland Hawkins Harding Porter Robertson Newton Oliver Reed Kennedy Williamson Bird "
    "Gardner Shah Dean Lane Cooke Bates Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross "
    "Cross Long Freeman Warren Nicholls Hamilton Byrne Sutton McDonald Yates Hodgson Robson Curtis Hopkins "
    "O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin Sharp Hardy Wheeler Potter Osborne "
    "Johnston Gordon Doyle Wallace George Jordan Hutchinson Rowe Burke May Pritchard Gilbert Willis Higgins "
    "Read Miles Stevenson Stephenson Hammond Arnold Buckley Walters Hewitt Barber Nelson Slater Austin Sullivan "
    "Whitehead Mann Frost Lambert Stephens Blake Akhtar Lynch Goodwin Barton Woodward Thomson Cunningham Quinn "
    "Barnett Baxter Bibi Clayton Nash Greenwood Jennings Holt Kemp Poole Gallagher Bond Stokes Tucker Davidson "
    "Fowler Heath Norman Middleton Lawson Banks French Stanley Jarvis Gibbs Ferguson Hayward Carroll Douglas "
    "Dickinson Todd Barlow Peters Lucas Knowles Hartley Miah Simmons Morton Alexander Field Morrison Norris "
    "Townsend Preston Hancock Thornton Baldwin Burrows Briggs Storey Pugh Fraser Dyer Kirby Sanders Hyde Nowak "
    "Kowalski Wiśniewski Mahmood Iqbal Rahman Uddin Islam Mensah Okafor Adeyemi Osei Mohamed Abdi Yusuf Kaya "
    "Popescu"
).split()
# The long tail of surnames (about two thirds of children have one outside the commonest few hundred):
# English-looking compounds, each rare.
_SURNAME_HEADS = (
    "Ash Black Brad Brom Cal Cart Chad Dal Dun Elm Fair Farn Gar Glen Hal Hather Hol Ked Kirk Lang Lock Mar Mel "
    "Mor New Nor Oak Pem Rad Red Ring Roth Sal Shel Stan Stock Thorn Tod Wad Wal War Wether Whit Wil Win Wor"
).split()
_SURNAME_TAILS = (
    "ley ton worth field wood by ham well bridge ford combe stead more wick hurst den ridge ington shaw thorpe "
    "brook borough land cott"
).split()
_SURNAME_ENDINGS = ("", "s", "e", "er", "son")
COMMON_SURNAME_SHARE = 0.35
# A fifth of children have a forename outside the commonest hundred or so: made of two sounds, each rare.
_FORENAME_HEADS = "Ka Ja Ma La Ra Ta Ne Re Le Bri Ca Da Ke Ri Sa Za Mi Jo Ty Al Ar El Fe Ha".split()
_FORENAME_TAILS = "den lyn ron ya na son ra ley lan nie ah ine ell iyah on ie vin ria".split()
COMMON_FORENAME_SHARE = 0.8
NICKNAMES = {
    "William": "Will",
    "Thomas": "Tom",
    "James": "Jamie",
    "Joshua": "Josh",
    "Samuel": "Sam",
    "Alexander": "Alex",
    "Daniel": "Danny",
    "Benjamin": "Ben",
    "Matthew": "Matt",
    "Michael": "Mike",
    "Nicholas": "Nick",
    "Joseph": "Joe",
    "Edward": "Ed",
    "Frederick": "Freddie",
    "Zachary": "Zac",
    "Harrison": "Harry",
    "Robert": "Bobby",
    "Theodore": "Theo",
    "Jacob": "Jake",
    "Oliver": "Ollie",
    "Charles": "Charlie",
    "Callum": "Cal",
    "Elizabeth": "Beth",
    "Katherine": "Kate",
    "Jessica": "Jess",
    "Rebecca": "Becky",
    "Charlotte": "Lottie",
    "Olivia": "Liv",
    "Abigail": "Abbie",
    "Samantha": "Sam",
    "Victoria": "Vicky",
    "Alexandra": "Lexi",
    "Eleanor": "Ellie",
    "Isabella": "Bella",
    "Isabelle": "Izzy",
    "Amelia": "Millie",
    "Jennifer": "Jenny",
    "Natalie": "Nat",
    "Madison": "Maddie",
}


def local_authorities() -> dict[str, list[str]]:
    """Each force's synthetic responsible local authorities: ONS-shaped codes that no real authority has.

    A force has one authority for about every 60,000 children. The codes are ``E069`` (``W069``
    in Wales) then the force's number and the authority's: real unitary authorities are numbered
    ``E06000001`` upwards and stop well short, so no synthetic code is a real one.

    Examples
    --------
    >>> authorities = local_authorities()
    >>> len(authorities["E23000001"]), authorities["E23000001"][0], authorities["W15000004"][0]
    (32, 'E06901001', 'W06904001')
    """
    forces = read_forces_table()
    out = {}
    for code, children in forces["children"].items():
        count = max(1, round(children / 60_000))
        out[code] = [f"{code[0]}069{code[-2:]}{i:03d}" for i in range(1, count + 1)]
    return out


def _weighted_names(names, shift: float) -> tuple[np.ndarray, np.ndarray]:
    weights = 1 / (np.arange(len(names)) + shift)
    return np.asarray(names, dtype=object), weights / weights.sum()


def _draw_forenames(rng, sex: np.ndarray) -> np.ndarray:
    n = len(sex)
    female = np.where(sex == "female", True, np.where(sex == "male", False, rng.random(n) < 0.5))
    names = np.empty(n, dtype=object)
    for chosen, pool in ((female, GIRLS), (~female, BOYS)):
        values, p = _weighted_names(pool, 8)
        names[chosen] = rng.choice(values, chosen.sum(), p=p)
    rare = rng.random(n) < 1 - COMMON_FORENAME_SHARE
    names[rare] = np.char.add(
        rng.choice(_FORENAME_HEADS, rare.sum()).astype(str), rng.choice(_FORENAME_TAILS, rare.sum()).astype(str)
    )
    return names


def _draw_surnames(rng, n: int) -> np.ndarray:
    values, p = _weighted_names(SURNAMES, 10)
    names = rng.choice(values, n, p=p)
    rare = rng.random(n) < 1 - COMMON_SURNAME_SHARE
    made = np.char.add(
        np.char.add(
            rng.choice(_SURNAME_HEADS, rare.sum()).astype(str), rng.choice(_SURNAME_TAILS, rare.sum()).astype(str)
        ),
        rng.choice(_SURNAME_ENDINGS, rare.sum()).astype(str),
    )
    names[rare] = made
    hyphenated = rng.random(n) < HYPHENATED_SHARE
    names[hyphenated] = [
        f"{a}-{b}" for a, b in zip(names[hyphenated], rng.choice(values, hyphenated.sum(), p=p), strict=True)
    ]
    return names


def _nhs_numbers(rng, n: int) -> np.ndarray:
    """Ten-digit numbers with the NHS number's modulus 11 check digit (those whose check would be 10 redrawn)."""
    out = np.empty(n, dtype=object)
    left = np.arange(n)
    while len(left):
        digits = rng.integers(0, 10, (len(left), 9))
        check = 11 - (digits * np.arange(10, 1, -1)).sum(axis=1) % 11
        check = np.where(check == 11, 0, check)
        ok = check != 10
        numbers = digits[ok] @ (10 ** np.arange(9, 0, -1)) + check[ok]
        out[left[ok]] = [f"{v:010d}" for v in numbers]
        left = left[~ok]
    return out


def _typo(rng, name: str) -> str:
    """One slip of the keyboard: a letter changed, dropped, doubled, or two swapped."""
    if len(name) < 3:
        return name
    i = int(rng.integers(1, len(name) - 1))  # not the first letter: a first letter is seldom mistyped
    kind = int(rng.integers(0, 4))
    letter = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))]
    if kind == 0:
        return name[:i] + letter + name[i + 1 :]
    if kind == 1:
        return name[:i] + name[i + 1 :]
    if kind == 2:
        return name[:i] + name[i] + name[i:]
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :]


def _join_children(rng, children: pd.DataFrame, share: float) -> np.ndarray:
    """Which child each record is: most records their own, a few joined to a like child of another force.

    Returns the index of each record's true child (the record of it that was drawn first).
    """
    n = len(children)
    child = np.arange(n)
    if n < 2 or share <= 0:
        return child
    per_group = 1 + THIRD_FORCE_SHARE
    groups = int(round(share * n / (1 + per_group * share)))
    looked_after = children["looked_after"].to_numpy(dtype=bool)
    placed = children["out_of_area_placement"].to_numpy(dtype=bool)
    weight = np.where(placed, PLACED_OUT_WEIGHT, np.where(looked_after, LOOKED_AFTER_WEIGHT, 1.0))
    groups = min(groups, n // 3)
    first = rng.choice(n, size=groups, replace=False, p=weight / weight.sum())
    used = np.zeros(n, dtype=bool)
    used[first] = True
    # Joined only to a child like it: the same sex, age and looked-after status.
    strata = pd.factorize(
        children["sex"].astype(str)
        + "|"
        + children["age"].astype(str)
        + "|"
        + pd.Series(looked_after).astype(str).to_numpy()
    )[0]
    order = np.argsort(strata, kind="stable")
    bounds = np.flatnonzero(np.diff(strata[order])) + 1
    pools = {int(strata[rows[0]]): list(rng.permutation(rows)) for rows in np.split(order, bounds)}
    forces = children["force_code"].to_numpy()
    for primary in first:
        pool = pools[int(strata[primary])]
        wanted = 1 + (rng.random() < THIRD_FORCE_SHARE)
        seen = {forces[primary]}
        # Candidates in turn, from the end of a shuffled pool; one of a force already in the group goes back.
        kept = []
        while pool and wanted:
            candidate = pool.pop()
            if used[candidate]:
                continue
            if forces[candidate] in seen:
                kept.append(candidate)
                continue
            used[candidate] = True
            child[candidate] = primary
            seen.add(forces[candidate])
            wanted -= 1
        pool.extend(reversed(kept))
    return child


def draw_identities(
    rng: np.random.Generator,
    children: pd.DataFrame,
    year: int,
    cross_force_share: float = CROSS_FORCE_SHARE,
    national_key_missing: float = NATIONAL_KEY_MISSING,
    key: bytes = DEMO_KEY,
) -> tuple[pd.DataFrame, dict]:
    """Draw each child's true identity, join a few children across forces, and token each force's record.

    Parameters
    ----------
    rng : numpy.random.Generator
        A stream of its own, so that no other draw of the generator moves.
    children : pandas.DataFrame
        The year's children, one row per force's child: ``force_code``, ``person_id``, ``sex``, ``age`` (at the
        start of the year), ``birthday`` (the fraction of the year at which the child is a year older),
        ``looked_after`` and ``out_of_area_placement`` (booleans).
    year : int
        The year of the children's reports.
    cross_force_share : float
        Of the true children, the share also missing in another force.
    national_key_missing : float
        Of the force records, the share without the national key.
    key : bytes
        The key to token with: :data:`DEMO_KEY`.

    Returns
    -------
    records : pandas.DataFrame
        On ``children``'s index: ``person_id`` and each column of
        :data:`toolkit.ingest.schema.LINKAGE_COLUMNS`, as the force's record gives them.
    truth : dict
        ``force_children``, ``children`` (true), ``children_in_more_than_one_force``, and ``child``: the true
        child (``T<year><number>``) of every record, in ``children``'s order.
    """
    n = len(children)
    sex = children["sex"].to_numpy()
    forename = _draw_forenames(rng, sex)
    surname = _draw_surnames(rng, n)
    # Born so that the child is `age` at the start of the year and a year older at `birthday` of it.
    born = pd.to_datetime([f"{year - a - 1}-01-01" for a in children["age"]]) + pd.to_timedelta(
        np.floor(children["birthday"].to_numpy() * 365).astype(int), unit="D"
    )
    nhs = _nhs_numbers(rng, n)
    authorities = local_authorities()
    forces = children["force_code"].to_numpy()
    codes = np.array(list(authorities), dtype=object)
    listed = np.array([la for las in authorities.values() for la in las], dtype=object)
    counts = pd.Series({code: len(las) for code, las in authorities.items()})
    offsets = counts.cumsum() - counts

    def authority_in(force_codes: np.ndarray) -> np.ndarray:
        """An authority of each force, at random."""
        index = pd.Index(codes).get_indexer(force_codes)
        return listed[offsets.to_numpy()[index] + (rng.random(len(index)) * counts.to_numpy()[index]).astype(int)]

    # A child placed out of area is the responsibility of an authority in another force's area.
    elsewhere = codes[rng.integers(0, len(codes), n)]
    placed = children["out_of_area_placement"].to_numpy(dtype=bool) & (elsewhere != forces)
    authority = authority_in(np.where(placed, elsewhere, forces))

    child = _join_children(rng, children, cross_force_share)
    joined = child != np.arange(n)
    # A child in care missing in two forces: placed in the first force's area by an authority in the second's.
    looked_after = children["looked_after"].to_numpy(dtype=bool)
    authority[child[joined]] = np.where(looked_after[joined], authority_in(forces[joined]), authority[child[joined]])
    forename, surname, born, nhs, authority = (v[child] for v in (forename, surname, np.asarray(born), nhs, authority))

    # Each force records the child its own way.
    forename = forename.copy()
    surname = surname.copy()

    def hit(share: float) -> np.ndarray:
        return rng.random(n) < share

    nickname = np.array([NICKNAMES.get(name, "") for name in forename], dtype=object)
    use = hit(VARIATION["nickname"]) & (nickname != "")
    forename[use] = nickname[use]
    for where, names in ((hit(VARIATION["forename_typo"]), forename), (hit(VARIATION["surname_typo"]), surname)):
        names[where] = [_typo(rng, name) for name in names[where]]
    halves = hit(VARIATION["hyphen_dropped"]) & (np.char.find(surname.astype(str), "-") > 0)
    first_half = rng.random(n) < 0.5
    surname[halves] = [s.split("-")[0 if f else 1] for s, f in zip(surname[halves], first_half[halves], strict=True)]
    swap = hit(VARIATION["names_swapped"])
    forename[swap], surname[swap] = surname[swap], forename[swap].copy()
    day = pd.DatetimeIndex(born).day.to_numpy()
    month = pd.DatetimeIndex(born).month.to_numpy()
    years = pd.DatetimeIndex(born).year.to_numpy()
    swapped = hit(VARIATION["day_month_swapped"]) & (day <= 12) & (day != month)
    day_typo = hit(VARIATION["dob_typo"]) & (day < 28)
    recorded_day = np.where(swapped, month, day) + day_typo
    recorded_month = np.where(swapped, day, month)
    # Always a real date: a swapped day is at most 12, and a day one out is at most 28.
    months = (years - 1970) * 12 + recorded_month - 1
    recorded = months.astype("datetime64[M]").astype("datetime64[D]") + (recorded_day - 1)
    dob = np.datetime_as_string(recorded, unit="D")
    nhs = np.where(hit(national_key_missing), "", nhs)
    authority = np.where(hit(VARIATION["la_blank"]), "", authority)

    raw = pd.DataFrame(
        {"forename": forename, "surname": surname, "date_of_birth": dob, "nhs_number": nhs}, index=children.index
    )
    tokens, _ = make_tokens(raw, key)
    records = tokens.assign(responsible_la=authority, person_id=children["person_id"].to_numpy())
    records = records[["person_id", *LINKAGE_COLUMNS]]
    true_ids = np.char.add(f"T{year}", np.char.zfill(child.astype(str), 6))
    truth = {
        "force_children": n,
        "children": int(len(np.unique(child))),
        "children_in_more_than_one_force": int(len(np.unique(child[joined]))),
        "child": true_ids.tolist(),
    }
    return records, truth
