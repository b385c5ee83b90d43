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
