"""Text that ships with the book: real English sentences and sentences about a new concept.

The files live in the repository's data/ folder (see data/README.md for sources and licences);
hopbook is installed from a checkout with `pip install -e .`, so they sit beside the package.
"""

import hashlib
import re
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"
HAMLET = ("shakespeare", "hamlet.txt")
CONCEPTS = ("concepts", "sentences.txt")


def data_file(*parts: str) -> Path:
    """A file under data/, with a clear error when the checkout does not have it."""
    path = DATA.joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: install hopbook from a checkout of the book (pip install -e .)")
    return path


def shipped() -> dict[str, str]:
    """The sha256 of each text file this module serves, by its path under data/ (None if absent)."""
    def digest(path: Path) -> str | None:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None

    return {"/".join(parts): digest(DATA.joinpath(*parts)) for parts in (HAMLET, CONCEPTS)}


def play_sentences(path: Path, min_words: int = 6, max_words: int = 25) -> list[str]:
    """The spoken sentences of a Project Gutenberg play, in order.

    Keeps the text after the first "ACT I.", drops stage directions in brackets, speaker tags
    (a short line ending in a full stop, such as "Ham."), act and scene headings, then splits the
    speeches into sentences and keeps those of min_words to max_words words.
    """
    text = path.read_text(encoding="utf-8")
    text = text[text.index("ACT I.") :]
    text = re.sub(r"\[[^\]]*\]", " ", text)
    speech = []
    for line in text.splitlines():
        line = line.strip()
        is_tag = bool(re.fullmatch(r"[A-Z][A-Za-z ]{0,20}\.", line))
        is_heading = line.startswith(("ACT ", "Scene ", "SCENE "))
        if line and not is_tag and not is_heading:
            speech.append(line)
    joined = re.sub(r"\s+", " ", " ".join(speech)).replace("--", " ")
    sentences = re.split(r"(?<=[.!?])\s+", joined)
    return [s for s in sentences if min_words <= len(s.split()) <= max_words]


def hamlet_sentences() -> list[str]:
    """Spoken sentences of Hamlet (Project Gutenberg etext 2ws2610, public domain)."""
    return play_sentences(data_file(*HAMLET))


def concept_sentences(word: str) -> list[str]:
    """The concept sentences of data/concepts/sentences.txt with `word` in place of "{}"."""
    lines = data_file(*CONCEPTS).read_text(encoding="utf-8").splitlines()
    return [line.format(word) for line in lines if line and not line.startswith("#")]
