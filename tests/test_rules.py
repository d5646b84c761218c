"""Rules as Python expressions: evaluated over named values only."""

import pytest

from hopbook.book.rules import evaluate, names_in


def test_a_rule_sees_its_names_and_a_few_builtins_only():
    assert evaluate("all(g <= 2 * r for g, r in zip(ranks_g, ranks))", {"ranks_g": [2, 8], "ranks": [1, 4]})
    assert names_in("all(int(r) > 0 for r in text.split(',')) and n < m") == {"text", "n", "m"}
    with pytest.raises(NameError):
        evaluate("open('x')", {})
    with pytest.raises(NameError):
        evaluate("__import__('os')", {})
