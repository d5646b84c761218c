"""Chapter declarations: parameters are read from the source and checked before anything runs."""

import jupytext
import pytest

from conftest import REPO, write_chapter
from hopbook.book.chapters import ChapterError, ParameterError, discover, load_chapter

META = """ranges: {seed: [0, 100]}
constraints: [seed != 13]
profiles: {smoke: {seed: 1}, paper: {seed: 99}}"""


def test_parameters_come_from_the_parameters_cell_and_front_matter(tmp_path):
    chapter = load_chapter(write_chapter(tmp_path, "demo", "pass", META))
    (seed,) = chapter.params.values()
    assert (seed.name, seed.type, seed.default, seed.help, seed.low, seed.high) == ("seed", "int", 0, "random seed", 0, 100)
    assert chapter.resolve("smoke") == {"seed": 1}
    assert chapter.resolve("default") == {"seed": 0}
    assert chapter.resolve("paper", {"seed": "7"}) == {"seed": 7}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sede": "1"}, "has no parameter 'sede'"),
        ({"seed": "one"}, "parameter 'seed' expects int, got 'one'"),
        ({"seed": "1.5"}, "parameter 'seed' expects int"),
        ({"seed": 1.5}, "parameter 'seed' expects int, got float"),
        ({"seed": "101"}, r"parameter 'seed' must lie in \[0, 100\]; got 101"),
        ({"seed": "13"}, r"must satisfy seed != 13 \(here seed=13\)"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(tmp_path, overrides, message):
    chapter = load_chapter(write_chapter(tmp_path, "demo", "pass", META))
    with pytest.raises(ParameterError, match=message):
        chapter.resolve("default", overrides)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_float_parameters_must_be_finite(tmp_path, text):
    source = write_chapter(tmp_path, "demo", "pass")
    source.write_text(source.read_text().replace("seed: int = 0", "beta: float = 1.0"))
    chapter = load_chapter(source)
    with pytest.raises(ParameterError, match="parameter 'beta' must be a finite number"):
        chapter.resolve("default", {"beta": text})
    with pytest.raises(ParameterError, match="must be a finite number"):
        chapter.resolve("default", {"beta": float(text)})


def test_a_chapter_shares_the_declaration_of_another_and_may_not_drift(tmp_path):
    first = load_chapter(write_chapter(tmp_path, "first", "pass", META))
    second_source = write_chapter(tmp_path, "second", "pass", "shares: first")
    second = load_chapter(second_source)
    assert (second.slug, second.title, second.source) == ("second", "second", second_source)
    assert (second.params, second.profiles, second.constraints) == (first.params, first.profiles, first.constraints)
    second_source.write_text(second_source.read_text().replace("seed: int = 0  # random seed", "seed: int = 0  # the seed"))
    with pytest.raises(ChapterError, match="must be that of first.md, which it shares; they differ in\n-seed: int = 0  # random seed"):
        load_chapter(second_source)
    write_chapter(tmp_path, "third", "pass", "shares: first\nranges: {seed: [0, 5]}")
    with pytest.raises(ChapterError, match="declare ranges there"):
        load_chapter(tmp_path / "notebooks" / "third.md")


def test_the_two_forgetting_chapters_share_one_declaration():
    second = jupytext.read(REPO / "notebooks" / "replay-ordering.md").metadata["hopbook"]
    assert second["shares"] == "intrinsic-forgetting" and not set(second) - {"title", "shares", "sweeps"}  # its own sweeps
    chapters = discover(REPO)
    assert chapters["replay-ordering"].params == chapters["intrinsic-forgetting"].params


def test_sharing_is_one_level_deep(tmp_path):
    write_chapter(tmp_path, "first", "pass", META)
    write_chapter(tmp_path, "second", "pass", "shares: first")
    write_chapter(tmp_path, "third", "pass", "shares: second")
    with pytest.raises(ChapterError, match="second.md shares its parameters too"):
        load_chapter(tmp_path / "notebooks" / "third.md")


def test_unknown_profile_is_refused(tmp_path):
    chapter = load_chapter(write_chapter(tmp_path, "demo", "pass", META))
    with pytest.raises(ParameterError, match="unknown profile 'huge'"):
        chapter.resolve("huge")


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("ranges: {seed: [0, 10]}\nprofiles: {smoke: {seed: 1000}}", "profile 'smoke'"),
        ("profiles: {smoke: {depth: 2}}", "no parameter 'depth'"),
        ("ranges: {depth: [0, 1]}", "unknown parameter 'depth'"),
        ("constraints: [depth > 1]", "unknown parameters \\['depth'\\]"),
        ("ranges: {seed: [5, 10]}", "default of parameter 'seed'"),
        ("requires: {depth: 'hopbook.data.available:dataset'}", "requires needs `parameter: module:function`"),
        ("requires: {seed: hopbook.data.available.dataset}", "requires needs `parameter: module:function`"),
        ("sweeps: {s: {grid: {depth: [1, 2]}}}", "sweep 's' names unknown parameters \\['depth'\\]"),
        ("sweeps: {s: {grid: {seed: 4}}}", "sweep 's' needs a name of letters"),
        ("sweeps: {s: {grid: {seed: []}}}", "sweep 's' needs a name of letters"),
        ("sweeps: {s: {grid: {seed: [1, 2]}, profile: huge}}", "sweep 's' needs a name of letters"),
        ("sweeps: {s: {grid: {seed: [1, 2]}, seeds: 3}}", "sweep 's' needs a name of letters"),
        ("sweeps: {a/b: {grid: {seed: [1, 2]}}}", "sweep 'a/b' needs a name of letters"),
        ("sweeps: [s]", "`sweeps:` must map names to"),
    ],
)
def test_malformed_declarations_are_refused_when_loaded(tmp_path, meta, message):
    with pytest.raises(ChapterError, match=message):
        load_chapter(write_chapter(tmp_path, "demo", "pass", meta))


def test_required_data_is_checked_before_a_run(tmp_path):
    meta = "requires: {seed: 'hopbook.data.available:dataset'}\nprofiles: {smoke: {}}"  # seed stands in for a dataset name
    chapter = load_chapter(write_chapter(tmp_path, "demo", "pass", meta))
    with pytest.raises(ParameterError, match="parameter 'seed': unknown dataset 0"):
        chapter.check_requirements(chapter.resolve())


def test_parameters_need_a_type_and_one_line_each(tmp_path):
    source = write_chapter(tmp_path, "demo", "pass")
    source.write_text(source.read_text().replace("seed: int = 0", "seed = 0"))
    with pytest.raises(ChapterError, match="needs a type annotation"):
        load_chapter(source)
    source.write_text(source.read_text().replace("seed = 0  # random seed", "seed: int = 0  # a = b"))
    with pytest.raises(ChapterError, match="one line"):
        load_chapter(source)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False)])
def test_boolean_parameters_parse_true_and_false(tmp_path, text, value):
    source = write_chapter(tmp_path, "demo", "pass")
    source.write_text(source.read_text().replace("seed: int = 0", "plot: bool = True"))
    chapter = load_chapter(source)
    assert chapter.resolve("default", {"plot": text}) == {"plot": value}
    with pytest.raises(ParameterError, match="expects true or false"):
        chapter.resolve("default", {"plot": "yes"})


def test_every_chapter_of_the_book_declares_its_three_profiles():
    chapters = discover(REPO)
    assert chapters, "the book has no chapters"
    for chapter in chapters.values():
        assert {"smoke", "paper"} <= set(chapter.profiles), chapter.slug
        for profile in ("smoke", "default", "paper"):
            chapter.resolve(profile)


def test_sweeps_are_each_chapters_own(tmp_path):
    write_chapter(tmp_path, "first", "pass", META + "\nsweeps: {seeds: {profile: smoke, grid: {seed: [1, 2]}}}")
    second = load_chapter(write_chapter(tmp_path, "second", "pass", "shares: first"))
    third = load_chapter(write_chapter(tmp_path, "third", "pass", "shares: first\nsweeps: {s: {grid: {seed: [3]}}}"))
    assert load_chapter(tmp_path / "notebooks" / "first.md").sweeps == {"seeds": {"profile": "smoke", "grid": {"seed": [1, 2]}}}
    assert second.sweeps == {} and third.sweeps == {"s": {"grid": {"seed": [3]}}}
