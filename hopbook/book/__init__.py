"""The book's machinery: chapters and their parameters, claims and the rules that decide them, the prose
that cites them, fingerprints, runs, sweeps and controls, the plan and the build, the generated pages
and the command line."""
