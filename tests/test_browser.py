"""The built book as a reader sees it in a browser: typeset equations, loaded figures, the glued
numbers, a notebook to download, no console error and no request leaving the machine.

Runs Debian's Chromium through Playwright (never a browser of Playwright's own) on the smoke book,
served from 127.0.0.1. Without the browser the tests skip, unless HOPBOOK_REQUIRE_BROWSER=1 (CI),
where they fail.
"""

import functools
import http.server
import importlib.util
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # should a request slip past the route
]
LOCAL_HOST = "127.0.0.1"
# Console errors of the pinned Jupyter Book 1 stack, not of the book: Sphinx 7.4 writes sphinx-thebe's
# inline `const THEBE_JS_URL = ...` script twice (once as added, once re-added from the registry when
# writing starts), and the second copy throws. Thebe is off, so nothing a reader sees depends on it.
UPSTREAM_ERRORS = {"Identifier 'THEBE_JS_URL' has already been declared"}
CHAPTER_PAGES = "book/chapters/"


def toc_entries() -> list[str]:
    """Every page entry of _toc.yml, root first: its `file` entries and `glob` patterns, sections included."""
    def entries(chapters):
        for entry in chapters:
            if "file" in entry or "glob" in entry:
                yield entry.get("file") or entry["glob"]
            yield from entries(entry.get("sections", []))

    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"], *(e for part in toc.get("parts", [toc]) for e in entries(part.get("chapters", [])))]


ENTRIES = toc_entries()
CHAPTERS = [entry.removeprefix(CHAPTER_PAGES) for entry in ENTRIES if entry.startswith(CHAPTER_PAGES)]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium for the session; skips (fails under HOPBOOK_REQUIRE_BROWSER=1) without it."""
    missing = [what for what, here in (("Chromium at " + str(CHROMIUM), CHROMIUM.exists()),
                                       ("the playwright package", importlib.util.find_spec("playwright")))
               if not here]
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("HOPBOOK_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (HOPBOOK_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(browser, smoke_book):
    """The smoke book's HTML served on 127.0.0.1; yields its base URL. (`browser` first: a machine
    without one skips before the book is built.)"""
    handler = functools.partial(QuietHandler, directory=str(smoke_book / "_build" / "html"))
    server = http.server.ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOCAL_HOST}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@dataclass
class Seen:
    """What a reader sees on a page."""
    text: str  # the visible text, whitespace collapsed
    prose: str  # the visible text outside code blocks and inline code
    math: int  # math elements the page carries (Sphinx's .math spans and divs)
    typeset: int  # mjx-container elements MathJax made
    untypeset: int  # math elements with no mjx-container inside
    math_errors: list[str]  # TeX MathJax could not typeset
    broken_images: list[str]  # src of images that did not load
    broken_fonts: list[str]  # families of web fonts (MathJax's among them) that failed to load
    notebooks: dict[str, tuple[int, str]]  # href of each .ipynb link: HTTP status, body
    claims: dict[str, str]  # the id of each claim block: the verdict it shows beside it
    cut_math: int  # display equations wider than the page that are not scrollable in their box
    errors: list[str]  # console errors and uncaught exceptions
    blocked: list[str]  # requests that would have left the machine


LOAD_IMAGES = """async () => {
    for (const img of document.images) img.loading = "eager";
    await Promise.all([...document.images].map(img => img.complete ? null
        : new Promise(resolve => { img.onload = img.onerror = resolve; })));
    await document.fonts.ready;
}"""

LOOK = """() => ({
    text: document.body.innerText,
    math: document.querySelectorAll(".math").length,
    typeset: document.querySelectorAll("mjx-container").length,
    untypeset: [...document.querySelectorAll(".math")].filter(m => !m.querySelector("mjx-container")).length,
    math_errors: [...document.querySelectorAll("mjx-merror")].map(e => e.getAttribute("data-mjx-error") || e.textContent),
    broken_images: [...document.images].filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src),
    broken_fonts: [...document.fonts].filter(font => font.status === "error").map(font => font.family),
    notebooks: [...new Set([...document.querySelectorAll('a[href$=".ipynb"]')].map(a => a.href))],
    claims: Object.fromEntries([...document.querySelectorAll(".hopbook-claim")].map(block => [
        block.querySelector(".hopbook-claim-title code").innerText, block.querySelector(".hopbook-verdict").innerText])),
    cut_math: [...document.querySelectorAll('mjx-container[display="true"]')].filter(box =>
        box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== "auto").length,
})"""

PROSE = """() => {
    for (const code of document.querySelectorAll("pre, code")) code.style.display = "none";
    return document.body.innerText;
}"""

FETCH = """async href => { const response = await fetch(href); return [response.status, await response.text()]; }"""


def read_page(browser, url: str) -> Seen:
    """Open `url` with every request off 127.0.0.1 aborted; wait for MathJax, images and fonts;
    return what the page shows. The page's .ipynb links are fetched from inside the page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page()
    page.set_default_timeout(30_000)
    errors, blocked = [], []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))

    def only_local(route):
        if urlsplit(route.request.url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    try:
        page.goto(url, wait_until="load")
        if page.locator('script[src*="mathjax"]').count():
            try:
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                       timeout=15_000)
                page.evaluate("() => MathJax.startup.promise")  # resolves once the page is typeset
            except PlaywrightTimeout:
                errors.append("MathJax did not start")
        page.evaluate(LOAD_IMAGES)
        page.wait_for_load_state("networkidle")
        seen = page.evaluate(LOOK)
        seen["notebooks"] = {href: tuple(page.evaluate(FETCH, href)) for href in seen["notebooks"]}
        seen["prose"] = page.evaluate(PROSE)
    finally:
        page.context.close()
    squash = lambda text: re.sub(r"\s+", " ", text)
    return Seen(**{**seen, "text": squash(seen["text"]), "prose": squash(seen["prose"])},
                errors=errors, blocked=blocked)


RAW_TEX = re.compile(r"\$\$|\\[()\[\]]|\\[A-Za-z]{2,}")  # $$, \( \) \[ \], \frac and the like


@pytest.fixture(scope="session")
def look(browser, site, smoke_book):
    """What a reader sees on each page a toc entry names (a glob may name several), by page; read once."""
    html = smoke_book / "_build" / "html"

    @functools.cache
    def pages(entry: str) -> dict[str, Seen]:
        names = sorted(path.relative_to(html).as_posix() for path in html.glob(entry + ".html"))
        assert names, f"no page built for the toc entry {entry}"
        return {name: read_page(browser, f"{site}/{name}") for name in names}

    return pages


@pytest.mark.parametrize("entry", ENTRIES)
def test_nothing_leaves_the_machine_and_nothing_fails(look, entry):
    for page, seen in look(entry).items():
        assert seen.blocked == [], page  # every script, style, font and image comes from the book itself
        assert [error for error in seen.errors if error not in UPSTREAM_ERRORS] == [], page


@pytest.mark.parametrize("entry", ENTRIES)
def test_equations_are_typeset(look, entry):
    for page, seen in look(entry).items():
        assert seen.untypeset == 0, page  # every math element holds what MathJax made of it
        assert seen.math_errors == [] and seen.broken_fonts == [], page
        assert RAW_TEX.findall(seen.prose) == [], page


@pytest.mark.parametrize("entry", ENTRIES)
def test_figures_load_and_glued_values_are_filled_in(look, entry):
    for page, seen in look(entry).items():
        assert seen.broken_images == [], page
        assert "{glue" not in seen.text, page


@pytest.mark.parametrize("entry", ENTRIES)
def test_linked_notebooks_download(look, entry):
    for page, seen in look(entry).items():
        for href, (status, body) in seen.notebooks.items():
            assert status == 200, (page, href)
            assert isinstance(json.loads(body)["cells"], list), (page, href)


@pytest.mark.parametrize("slug", CHAPTERS)
def test_a_chapter_shows_its_equations_verdicts_and_its_notebook(look, smoke_book, slug):
    [seen] = look(CHAPTER_PAGES + slug).values()
    assert seen.typeset > 0
    assert seen.cut_math == 0  # a wide equation scrolls inside its box
    claims = json.loads((smoke_book / "runs" / "smoke" / slug / "results.json").read_text())["claims"]
    # every claim is a block on the page, its verdict beside it (a check that holds "passes")
    shown = {c["id"]: "passes" if c["kind"] == "check" and c["verdict"] == "holds" else c["verdict"] for c in claims}
    assert {id: verdict.lower() for id, verdict in seen.claims.items()} == shown
    assert any(urlsplit(href).path == f"/_sources/book/chapters/{slug}.ipynb" for href in seen.notebooks)
