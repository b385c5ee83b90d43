import pytest

from toolkit import forces
from toolkit.errors import ConfigError, UnknownForceError


def test_registry_has_the_43_territorial_forces_with_ons_child_populations():
    table = forces.read_forces_table()
    assert len(table) == 43
    assert table.index.is_unique
    assert (table.index.str.match(forces.FORCE_CODE_PATTERN)).all()
    # Checks published with the reference data: England and Wales, ages 0-17 and all ages.
    assert table["children"].sum() == 12_618_614
    assert table["population"].sum() == 60_854_727
    assert (table["country"] == "Wales").sum() == 4
    assert "btp" not in set(table["slug"])  # no resident population, no per-capita rate


def test_slugs_are_unique_and_safe_for_file_names():
    slugs = [f.slug for f in forces.list_forces()]
    assert len(set(slugs)) == 43
    assert all(s.replace("-", "").isalnum() and s.islower() for s in slugs)


@pytest.mark.parametrize("code", ["E23000040", "e23000014", "", "../etc", "E23000014'; import os", None, 14])
def test_unknown_codes_are_refused(code):
    with pytest.raises(UnknownForceError, match="unknown force code"):
        forces.get_force(code)


def test_shipped_comparator_groups_are_the_documented_rule():
    assert forces.read_comparator_groups() == forces.propose_comparator_groups(7)


def test_city_of_london_is_nobodys_comparator():
    groups = forces.read_comparator_groups()
    assert not any("E23000034" in peers for peers in groups.values())


def test_official_lists_can_be_supplied(tmp_path):
    groups = {f.code: [g.code for g in forces.list_forces() if g.code != f.code][:8] for f in forces.list_forces()}
    path = tmp_path / "msg.yaml"
    forces.write_comparator_groups(groups, path, source="official most similar groups")
    assert forces.read_comparator_groups(path) == groups


@pytest.mark.parametrize(
    "document, message",
    [
        ("groups: [", "not valid YAML"),
        ("just text", "needs a 'groups' mapping"),
        ("groups:\n  E23000099: [E23000001]", "'E23000099' is not a force code"),
        ("groups:\n  E23000001: [E23000001]", "cannot be its own comparator"),
        ("groups:\n  E23000001: [E23000002]", "no group for"),
    ],
)
def test_bad_comparator_files_are_refused_clearly(tmp_path, document, message):
    path = tmp_path / "groups.yaml"
    path.write_text(document)
    with pytest.raises(ConfigError, match=message):
        forces.read_comparator_groups(path)


def test_missing_comparator_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read comparator groups"):
        forces.read_comparator_groups(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "typed", ["E23000034", "city-of-london", "City of London", "CITY OF LONDON POLICE", " city-of-london "]
)
def test_a_force_is_found_by_code_slug_or_name(typed):
    assert forces.find_force(typed).code == "E23000034"


def test_a_force_that_is_not_one_is_refused_with_the_closest():
    with pytest.raises(UnknownForceError, match="closest"):
        forces.find_force("west midland")


def test_every_childrens_services_authority_has_one_force_area():
    import pandas as pd

    areas = forces.read_authority_areas()
    districts = pd.read_csv(forces.DISTRICTS_FILE, dtype=str, encoding="utf-8-sig")
    counties = pd.read_csv(forces.COUNTIES_FILE, dtype=str)
    # The county list (from ONS MYE2's order) and the district lookup are independent files: every two-tier
    # district is under exactly one county, and every county's districts lie in one force area.
    two_tier = set(districts.loc[districts["LAD23CD"].str.startswith("E07"), "LAD23CD"])
    assert set(counties["LAD23CD"]) == two_tier and counties["LAD23CD"].is_unique
    spans = counties.merge(districts, on="LAD23CD").groupby("CTY23CD")["PFA23CD"].nunique()
    assert len(spans) == 21 and spans.max() == 1
    # Upper-tier authorities (those with children's services): 21 counties, 63 unitary, 36 metropolitan,
    # 33 London (City of London included), 22 Welsh; every one in a registered force, every force with one.
    upper = {code: force for code, force in areas.items() if not code.startswith("E07")}
    prefixes = pd.Series([code[:3] for code in upper]).value_counts().to_dict()
    assert prefixes == {"E06": 63, "E08": 36, "E09": 33, "W06": 22, "E10": 21}
    assert set(upper.values()) == {force.code for force in forces.list_forces()}
    # Kent County Council and Medway are Kent Police's; the City of London is the City of London Police's.
    assert areas["E10000016"] == areas["E06000035"] == forces.find_force("Kent").code
    assert areas["E09000001"] == forces.find_force("City of London").code
