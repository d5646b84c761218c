"""Claim directives: what a chapter's Markdown declares, checked before anything runs."""

import pytest

from hopbook.book.directives import ClaimError, control_name, parse

CLAIM = """Prose before.

```{claim} thm-4.1
:source: Theorem 4.1
:paper: the outlier rises more
:criterion: difference['mean'] > 3 * difference['se']
:control: cosine=0 n_cluster=3

The outlier's fixed point rises
more than the cluster's.
```
"""


def test_a_directive_gives_the_claim_its_statement_rules_and_control():
    [claim] = parse(CLAIM)
    assert (claim.id, claim.kind, claim.source, claim.paper) == ("thm-4.1", "claim", "Theorem 4.1", "the outlier rises more")
    assert claim.criterion == "difference['mean'] > 3 * difference['se']"
    assert claim.statement == "The outlier's fixed point rises more than the cluster's."
    assert claim.control == {"cosine": "0", "n_cluster": "3"} and control_name(claim.control) == "cosine=0,n_cluster=3"


def test_a_check_needs_no_control_and_a_claim_may_say_why_it_has_none():
    check = CLAIM.replace(":control: cosine=0 n_cluster=3", ":kind: check")
    assert parse(check)[0].kind == "check" and parse(check)[0].control == {}
    reasoned = parse(CLAIM.replace("cosine=0 n_cluster=3", "none: the grid is fixed"))[0]
    assert reasoned.control == {} and reasoned.no_control == "the grid is fixed"


@pytest.mark.parametrize(("edit", "error"), [
    ((":control: cosine=0 n_cluster=3\n", ""), "needs :control:"),
    ((":control: cosine=0 n_cluster=3", ":control: cosine 0"), "must read NAME=VALUE"),
    ((":source: Theorem 4.1\n", ""), "needs :source:"),
    (("> 3 *", "> > 3 *"), "not a Python expression"),
    ((":source:", ":kind: lemma\n:source:"), "kinds are claim, check"),
    ((":source:", ":colour: red\n:source:"), "unknown option :colour:"),
    ((":source:", ":tested-if: 'gpt2' in model_path\n:source:"), "together"),
    ((":source:", ":expect: maybe\n:source:"), "verdicts are"),
    (("thm-4.1\n", "\n"), "needs an id"),
])
def test_a_malformed_directive_is_refused_naming_the_claim(edit, error):
    with pytest.raises(ClaimError, match=error):
        parse(CLAIM.replace(*edit))
