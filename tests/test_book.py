"""Every chapter run with its smoke profile, the results contract, and the book built from the runs."""

import html
import json
import re
import shutil

import nbformat
import pandas as pd
import pytest

from conftest import REPO, hopbook
from hopbook.book import build, plan, scorecard
from hopbook.book.claims import verdict_summary
from hopbook.book.plan import toc_chapters
from hopbook.book.chapters import discover, load_chapter
from hopbook.book.prose import UnrecordedCitation
from hopbook.book.rules import evaluate
from hopbook.book.results import read as read_results
from hopbook.book.runner import is_up_to_date, label, staleness, state

CHAPTERS = sorted(discover(REPO))


def results_of(root, slug, profile="smoke"):
    return json.loads((root / "runs" / profile / slug / "results.json").read_text())


def page_text(path):
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", path.read_text(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(text))


def page_text_of(fragment):
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def unspaced(text):
    """Text without whitespace: what a page shows, whatever tags split it."""
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("slug", CHAPTERS)
def test_each_chapter_records_every_claim_with_a_computed_verdict(smoke_book, slug):
    results = results_of(smoke_book, slug)
    assert {"chapter", "params", "profile", "claims", "recorded", "versions", "device", "elapsed_s", "commit",
            "dirty", "command", "overrides", "code"} <= results.keys()
    assert results["chapter"] == slug and results["profile"] == "smoke"  # told by the runner, not typed in the chapter
    assert results["params"] == discover(REPO)[slug].resolve("smoke") and results["overrides"] == {}
    assert results["command"].startswith("hopbook --root ") and results["command"].endswith("build --profile smoke")
    assert f"notebooks/{slug}.md" in results["code"] and "hopbook.book.claims" in results["code"]
    assert {"torch", "numpy", "papermill", "hopbook"} <= results["versions"].keys()
    assert results["claims"], "a chapter with no claims"
    ids = [c["id"] for c in results["claims"]]
    assert len(ids) == len(set(ids))
    for claim in results["claims"]:
        for key in ("statement", "source", "paper", "criterion"):
            assert isinstance(claim[key], str) and claim[key], (claim["id"], key)
        assert claim["kind"] in ("claim", "check") and claim["measured"]
        assert claim["verdict"] in ("holds", "does not hold", "not tested")
        # a claim has a control (its verdict recorded by the build) or says why it has none; a check needs none
        assert claim["control"] or claim["kind"] == "check", claim["id"]
        has_control = bool(claim["control"]) and not claim["control"].startswith("none:")
        assert (claim["control_verdict"] is not None) == has_control, claim["id"]
        if claim["verdict"] == "not tested":
            assert claim["holds"] is None and claim["reason"], claim["id"]
            continue
        # the verdict is the declared criterion evaluated on the recorded measurements
        assert claim["holds"] == evaluate(claim["criterion"], claim["measured"]), claim["id"]
        assert claim["verdict"] == ("holds" if claim["holds"] else "does not hold")


@pytest.mark.parametrize("slug", CHAPTERS)
def test_verdicts_are_those_the_chapter_says_the_mathematics_dictates(smoke_book, slug):
    verdicts = {c["id"]: c["verdict"] for c in results_of(smoke_book, slug)["claims"]}
    expected = {c.id: c.expect for c in discover(REPO)[slug].claims if c.expect}
    assert expected, f"{slug} expects no verdict of any claim (:expect:)"
    assert {id: verdicts[id] for id in expected} == expected


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapters_glue_nothing_by_hand_and_never_name_themselves(slug):
    code = discover(REPO)[slug].code()
    assert "glue" not in code and "myst_nb" not in code  # values reach the prose through claims only
    assert "Claims()" in code and slug not in code  # the runner tells the chapter its name
    assert "declare(" not in code  # its claims are declared in its Markdown


@pytest.mark.parametrize("slug", CHAPTERS)
def test_the_book_shows_each_chapter_with_figures_glued_numbers_and_a_download(smoke_book, slug):
    page = smoke_book / "_build" / "html" / "book" / "chapters" / f"{slug}.html"
    source = page.read_text()
    assert len(re.findall(r"<img [^>]*src=\"[^\"]*_images/", source)) >= 2
    assert "_sources/book/chapters/" + slug + ".ipynb" in source  # the download button
    assert (smoke_book / "_build" / "html" / "_sources" / "book" / "chapters" / f"{slug}.ipynb").exists()
    # the parameters of this run are shown once, in one paragraph, those the profile changed marked with the default
    text, chapter = page_text(page), discover(REPO)[slug]
    assert text.count("Parameters of this run") == 1 and "injected-parameters" not in source
    assert "# Parameters" not in text and "# parameters" not in text  # papermill's injected cell is hidden
    for name, value in chapter.resolve("smoke").items():
        default = chapter.params[name].default
        shown = f"{name} = {value!r}" + (f" (default {default!r})" if value != default else "")
        assert unspaced(shown) in unspaced(text), shown
    assert re.search(r"^\w+: (int|float|str|bool) = ", "\n".join(c.source for c in chapter.notebook().cells), re.M)
    assert not re.search(r"\b\w+: (int|float|str|bool) = ", text)  # the declared cell is hidden


def test_linear_attention_prose_carries_the_measured_numbers(smoke_book):
    measured = {c["id"]: c["measured"] for c in results_of(smoke_book, "linear-attention")["claims"]}
    text = page_text(smoke_book / "_build" / "html" / "book" / "chapters" / "linear-attention.html")
    worst = measured["thm-3.2-ii"]["min_rel_worst_residual"]
    assert f"some old eigenvector is off by at least {worst:.2e}" in text
    assert f"at least {measured['proof-strict-interlacing']['min_surviving_partial']} eigenvalues of" in text
    found = measured["thm-3.2-ii-search"]
    assert f"succeeded from {found['n_found']} of {found['n_starts']} starts" in text
    claims = results_of(smoke_book, "linear-attention")["claims"]
    assert unspaced(f"In this run, {verdict_summary(claims)['summary']}.") in unspaced(text)


def test_relational_disruption_prose_carries_the_measured_numbers(smoke_book):
    measured = {c["id"]: c["measured"] for c in results_of(smoke_book, "relational-disruption")["claims"]}
    text = page_text(smoke_book / "_build" / "html" / "book" / "chapters" / "relational-disruption.html")
    overlap = measured["prop-4.2-either-overlap"]
    assert f"{overlap['n_unmoved_with_one_overlap']} of the {overlap['n_pairs_with_one_overlap']} pairs with exactly one" in text
    model = results_of(smoke_book, "relational-disruption")["recorded"]
    assert f"all-MiniLM-L6-v2 has {model['layers']} layers of {model['heads']} heads" in text
    assert "the fitted decay rate matches" in text
    first = measured["rag-first-layer"]["max_rel_key_change_first_layer"]
    assert f"largest relative change {first:.1e}" in text
    claims = results_of(smoke_book, "relational-disruption")["claims"]
    assert unspaced(f"In this run, {verdict_summary(claims)['summary']}.") in unspaced(text)


def test_the_scorecard_lists_every_claim_on_one_line_with_the_rest_a_click_away(smoke_book):
    source = (smoke_book / "_build" / "html" / "book" / "scorecard.html").read_text()
    text = page_text(smoke_book / "_build" / "html" / "book" / "scorecard.html")
    in_dropdowns = unspaced(" ".join(page_text_of(d) for d in re.findall(r"<details.*?</details>", source, re.S)))
    for slug in CHAPTERS:
        results = results_of(smoke_book, slug)
        summary = verdict_summary(results["claims"])["summary"]
        assert f"On cpu, profile smoke, {results['elapsed_s']:.0f} s: {summary}" in text
        for name, value in results["params"].items():
            assert f"{name}={value}" in text
        for claim in results["claims"]:
            verdict = scorecard.verdict_text(claim).replace("**", "").split(":")[0]  # a reason follows the colon
            assert f"{claim['id']} {claim['kind']} {verdict}" in text, claim["id"]  # the line
            assert unspaced(claim["criterion"]) in in_dropdowns
    everything = [c for slug in CHAPTERS for c in results_of(smoke_book, slug)["claims"]]
    assert f"{verdict_summary(everything)['summary']} in the runs this book was built from" in text
    assert source.count("<details") >= len(CHAPTERS)


def edited_copy(chapter, tmp_path, old, new):
    """The chapter loaded from a copy of its source in which old is replaced by new."""
    edited = tmp_path / chapter.source.name
    text = chapter.source.read_text()
    assert old in text
    edited.write_text(text.replace(old, new, 1))
    return load_chapter(edited)


def test_a_run_is_up_to_date_only_for_the_same_parameters_and_code(smoke_book, tmp_path):
    chapter = discover(smoke_book)["linear-attention"]
    out = smoke_book / "runs" / "smoke" / "linear-attention"
    params = chapter.resolve("smoke")
    assert is_up_to_date(chapter, params, out)
    assert state(chapter, {**params, "seed": 1}, out) == ("stale", "parameter seed 0 -> 1")
    prose = edited_copy(chapter, tmp_path, "\n## ", "\nOne more sentence of prose.\n\n## ")
    assert is_up_to_date(prose, params, out)  # prose never recomputes
    code = edited_copy(chapter, tmp_path, "claims = Claims()", "claims = Claims()  # one more line\nx = 1")
    assert state(code, params, out) == ("stale", "code cells of notebooks/linear-attention.md")


def test_status_says_what_is_current_stale_or_missing_and_why(smoke_book, tmp_path):
    done = hopbook("--root", str(smoke_book), "status", "--profile", "smoke", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["slug"] for r in rows] == [c.slug for c in toc_chapters(smoke_book, discover(smoke_book))]
    assert all(r.keys() == {"slug", "state", "reason"} and r["state"] == "current" and not r["reason"] for r in rows)

    copy = tmp_path / "book"
    shutil.copytree(smoke_book, copy, ignore=shutil.ignore_patterns("_build", "sweeps"))
    source = copy / "notebooks" / "linear-attention.md"
    text = source.read_text()
    source.write_text(text.replace("\n## ", "\nA sentence added to the prose.\n\n## ", 1))
    assert all(r["state"] == "current" for r in plan.status(copy, "smoke"))  # a prose edit reruns nothing
    source.write_text(text.replace("claims = Claims()", "claims = Claims()\nunused = 0", 1))
    shutil.rmtree(copy / "runs" / "smoke" / "classical-capacity")
    done = hopbook("--root", str(copy), "status", "--profile", "smoke")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "linear-attention: stale (code cells of notebooks/linear-attention.md)" in lines
    assert f"classical-capacity: missing (no finished run in {copy / 'runs' / 'smoke' / 'classical-capacity'})" in lines
    assert sum(line.endswith(": current") for line in lines) == len(rows) - 2


def test_a_page_shows_its_runs_outputs_in_todays_prose_which_may_cite_only_what_the_run_recorded(smoke_book, tmp_path):
    copy = tmp_path / "book"
    shutil.copytree(smoke_book, copy, ignore=shutil.ignore_patterns("_build", "sweeps"))
    source = copy / "notebooks" / "linear-attention.md"
    text = source.read_text()
    source.write_text(text.replace("\n## ", "\nToday's sentence: {glue:text}`param.seed`.\n\n## ", 1))
    rows = plan.plan(copy, "smoke")
    plan.bring_up_to_date(rows, "smoke", log=lambda line: pytest.fail(f"ran: {line}"))
    results = [read_results(row["out"]) for row in rows]
    build.stage(copy, results, [])
    staged = (copy / "_build" / "site" / "book" / "chapters" / "linear-attention.ipynb").read_text()
    ran = (copy / "runs" / "smoke" / "linear-attention" / "linear-attention.ipynb").read_text()
    assert "Today's sentence" in staged and "Today's sentence" not in ran
    shown, executed = (nbformat.reads(t, as_version=4) for t in (staged, ran))
    assert [c.outputs for c in shown.cells if c.cell_type == "code"] == \
        [c.outputs for c in executed.cells if c.cell_type == "code"]  # the run's outputs, every one, in order
    source.write_text(text.replace("\n## ", "\nA typo: {glue:text}`param.sead`.\n\n## ", 1))
    with pytest.raises(UnrecordedCitation, match="linear-attention: the prose cites `param.sead`"):
        build.stage(copy, results, [])


def test_the_documented_example_run_is_deterministic(smoke_book, tmp_path):
    first, second = tmp_path / "X", tmp_path / "Y"
    for out in (first, second):
        done = hopbook("--root", str(REPO), "run", "linear-attention", "--profile", "smoke", "-p", "seed", "5",
                       "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert "claims: " in done.stdout and " hold" in done.stdout
    a, b = json.loads((first / "results.json").read_text()), json.loads((second / "results.json").read_text())
    assert a["params"]["seed"] == 5 and a["overrides"] == {"seed": 5}
    assert a["command"].endswith(f"run linear-attention --profile smoke -p seed 5 --out {first}")
    assert re.fullmatch(r"[0-9a-f]{40}", a["commit"]) and isinstance(a["dirty"], bool)  # the code that made it
    assert [c["measured"] for c in a["claims"]] == [c["measured"] for c in b["claims"]]
    seed0 = results_of(smoke_book, "linear-attention")
    assert [c["measured"] for c in a["claims"]] != [c["measured"] for c in seed0["claims"]]


def test_scorecard_command_prints_every_claim(smoke_book):
    done = hopbook("--root", str(smoke_book), "scorecard")
    assert done.returncode == 0, done.stderr
    for claim in results_of(smoke_book, "linear-attention")["claims"]:
        assert f"**{claim['id']}**" in done.stdout
    done = hopbook("--root", str(smoke_book), "scorecard", "--profile", "paper")
    assert done.returncode == 1 and "no results yet" in done.stderr


def test_diffusion_prose_carries_the_measured_numbers_and_says_what_was_not_run(smoke_book):
    measured = {c["id"]: c["measured"] for c in results_of(smoke_book, "diffusion-forgetting")["claims"]}
    text = page_text(smoke_book / "_build" / "html" / "book" / "chapters" / "diffusion-forgetting.html")
    rho = measured["energy-forgetting-class"]
    assert f"correlation between energy and forgetting is {rho['rho']:.2f}" in text
    assert f"{measured['bottom-wider-domain']['pr_bottom']:.1f} in the rotated one" in text
    assert "Not run. No Stable Diffusion pipeline was given" in text
    recorded = results_of(smoke_book, "diffusion-forgetting")["recorded"]
    assert f"gives Task 1 {recorded['n_task1']} images" in text
    assert f"The UNet has {recorded['n_params']:,} parameters" in text
    latent = {c["id"]: c for c in results_of(smoke_book, "diffusion-forgetting")["claims"] if c["id"].startswith("latent-")}
    assert latent and all(c["verdict"] == "not tested" and c["reason"] for c in latent.values())  # nothing to test on


def test_committed_gpu_runs_are_shown_labelled_truthfully_and_stale_ones_marked(smoke_book):
    runs = {p.parent.name: read_results(p.parent) for p in (REPO / "runs" / "gpu").glob("*/results.json")}
    scorecard = page_text(smoke_book / "_build" / "html" / "book" / "scorecard.html")
    gpu = page_text(smoke_book / "_build" / "html" / "book" / "gpu.html")
    chapters = discover(REPO)
    for name, r in runs.items():
        chapter = chapters[r["chapter"]]
        stale = staleness(r, chapter)
        assert f"Run {name} of" in scorecard and name in gpu
        assert unspaced(f"made with {label(r, chapter)} on {r['device']}") in unspaced(gpu)
        assert unspaced("Stale: " + stale if stale else "Current: the code it ran") in unspaced(gpu)
        if stale:  # marked on the scorecard too, under the run's heading
            assert unspaced(f"Run {name} of") in unspaced(scorecard).split(unspaced("Stale: " + stale))[0]
        assert verdict_summary(r["claims"])["summary"] in gpu
    assert "CIFAR-10 could not be reached" in gpu  # the note left beside the run (runs/gpu/RUN/NOTE.md)
    # the run labelled `paper` ran the digits and a smaller model: its overrides say so
    assert label(runs["diffusion-forgetting-h100"], chapters["diffusion-forgetting"]).startswith(
        "profile paper with dataset=digits, width=64")
    for notebook in (REPO / "runs" / "gpu").glob("*/*.ipynb"):
        shown = smoke_book / "_build" / "html" / "book" / "gpu" / f"{notebook.parent.name}.html"
        assert shown.exists()
        stale = staleness(runs[notebook.parent.name], chapters[runs[notebook.parent.name]["chapter"]])
        assert unspaced("Stale: " + stale if stale else "Current:") in unspaced(page_text(shown))


def test_kept_runs_of_a_chapters_larger_profile_are_on_the_scorecard_marked_when_stale():
    kept = plan.committed_results(REPO, plan.KEPT_RUNS)
    chapters = discover(REPO)
    assert {r["chapter"] for r in kept.values()} >= {"diffusion-forgetting", "rank-collapse"}  # their former defaults
    page = scorecard.scorecard_markdown([], {}, chapters, kept)
    for name, r in kept.items():
        assert r["profile"] in chapters[r["chapter"]].profile_names and r["profile"] not in ("smoke", "default")
        assert f"## Kept run `{name}` of" in page and f"On cpu, profile {r['profile']}," in page
        stale = staleness(r, chapters[r["chapter"]])
        assert (f"**Stale**: {stale}." in page) == bool(stale)
    older = {name: {**r, "code": {**r["code"], "hopbook.stats": "0" * 64}} for name, r in kept.items()}
    assert scorecard.scorecard_markdown([], {}, chapters, older).count("**Stale**: changed since it ran:") == len(kept)


def test_a_run_is_stale_when_the_code_it_ran_changes(smoke_book, tmp_path):
    results = results_of(smoke_book, "linear-attention")
    chapter = discover(smoke_book)["linear-attention"]
    assert staleness(results, chapter) is None
    assert staleness(results, edited_copy(chapter, tmp_path, "\n## ", "\nOne more sentence.\n\n## ")) is None
    edited = edited_copy(chapter, tmp_path, "claims = Claims()", "claims = Claims()\nunused = 0")
    assert staleness(results, edited) == "changed since it ran: notebooks/linear-attention.md"
    older = {**results, "code": {**results["code"], "hopbook.gram": "0" * 64}}
    assert staleness(older, chapter) == "changed since it ran: hopbook.gram"
    assert staleness({k: v for k, v in results.items() if k != "code"}, chapter) == "it recorded no code to compare with"


def test_the_book_maps_where_each_claim_holds_over_each_declared_sweep(smoke_book):
    page = smoke_book / "_build" / "html" / "book" / "robustness.html"
    text, source = page_text(page), page.read_text()
    swept = {slug: c.sweeps for slug, c in discover(REPO).items() if c.sweeps}
    figures = re.findall(r'<img alt="where the claims of ([^"]+) hold over [^"]+" src="../(_images/[^"]+)"', source)
    assert all((page.parent.parent / image).stat().st_size > 0 for _, image in figures)
    assert {"linear-attention", "relational-disruption", "rank-collapse", "intrinsic-forgetting", "replay-ordering",
            "hopfield-attention"} <= set(swept)  # every theorem chapter
    for slug, sweeps in swept.items():
        for name, spec in sweeps.items():
            table = pd.read_csv(smoke_book / "runs" / "sweeps" / slug / name / "sweep.csv")
            n_points = 1
            for values in spec["grid"].values():
                n_points *= len(values)
            assert table["run"].nunique() == n_points
            assert f"sweep {name}" in text and f"{n_points} points" in text
            claims = table["claim"].dropna().unique()
            assert len(claims) == len(results_of(smoke_book, slug)["claims"])  # no point failed at smoke size
            assert all(unspaced(f"{claim}:") in unspaced(text) for claim in claims)  # each panel named under its figure
    assert sorted(slug for slug, _ in figures) == sorted(slug for slug, s in swept.items() for _ in s)  # one figure a sweep
    table = pd.read_csv(smoke_book / "runs" / "sweeps" / "intrinsic-forgetting" / "cosine-beta" / "sweep.csv")
    assert sorted(table["cosine"].unique()) == [-0.08, 0, 0.35, 0.7] and sorted(table["beta"].unique()) == [2, 8, 32]


def test_hopfield_chapters_prose_carries_the_measured_numbers_and_the_answer(smoke_book):
    measured = {c["id"]: c["measured"] for c in results_of(smoke_book, "hopfield-attention")["claims"]}
    text = page_text(smoke_book / "_build" / "html" / "book" / "chapters" / "hopfield-attention.html")
    separated = measured["thm-4-one-step"]
    assert f"{separated['n_separated']} of the {separated['n_patterns']} patterns are well separated" in text
    assert f"agrees with 1-nearest-neighbour for a share {measured['beta-nearest-neighbour']['agreement_at_min']:.2f}" in text
    results = results_of(smoke_book, "head-diagnostics")
    measured = {c["id"]: c["measured"] for c in results["claims"]}
    text = page_text(smoke_book / "_build" / "html" / "book" / "chapters" / "head-diagnostics.html")
    assert f"The first layer has {measured['class-i-first-layer']['n_class_i']} heads of class I" in text
    assert results["recorded"]["answer"] in text
    kbar = results["recorded"]["kbar"]
    assert len(kbar) == results["recorded"]["n_layers"] and all(len(row) == results["recorded"]["n_heads"] for row in kbar)
