"""The page *Where the verdicts hold*: each declared sweep's grid and its figure, a panel per claim."""

from pathlib import Path

from hopbook.book import sweep

PAGE = "book/robustness.md"
FOLDER = "book/robustness"  # the sweeps' figures, SLUG/NAME/


def sweeps_markdown(sweeps: list[dict]) -> str:
    """The robustness page: for each declared sweep, its grid and its figure, a panel per claim."""
    parts = [
        "# Where the verdicts hold\n",
        "A verdict holds at the parameters of its run. Each chapter below declares a sweep in its front matter:",
        "`hopbook build` runs the chapter at every point of a grid (an ordinary run each, cached like any run, on",
        "Dask), and each figure shows, a panel per claim, whether it holds at each point. A grid reaches past the",
        "hypotheses where it can, so a map shows where a claim stops holding. `hopbook sweep SLUG -p NAME v1,v2,...`",
        "draws such a figure over any grid.\n",
    ]
    for s in sweeps:
        chapter, table = s["chapter"], s["table"]
        points = table.drop_duplicates("run")
        grid = "; ".join(f"`{k}` in {', '.join(map(str, v))}" for k, v in s["grid"].items())
        failed = points[points["verdict"] == sweep.FAILED]
        parts += [
            f"## {{doc}}`{chapter.title} <chapters/{chapter.slug}>`: sweep `{s['name']}`\n",
            f"Profile `{s['profile']}`, the other parameters at the profile's values; {grid}: {len(points)} points,"
            f" {len(failed)} failed.\n",
        ]
        parts += [f"- point `{Path(run).name}`: {error}" for run, error in zip(failed["run"], failed["error"])]
        claims = table.dropna(subset="claim").drop_duplicates("claim")
        parts += [f"```{{figure}} robustness/{chapter.slug}/{s['name']}/{sweep.MAP}",
                  f":alt: where the claims of {chapter.slug} hold over {' and '.join(s['grid'])}\n",
                  "Panels: " + "; ".join(f"`{c}`: {statement.rstrip('.')}" for c, statement in claims[["claim", "statement"]].values) + ".",
                  "```\n"]
    return "\n".join(parts)
