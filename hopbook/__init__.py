"""hopbook: the helper package behind the Hopfield-memory reproduction book.

Math lives in one module per concept (`gram`, `hopfield`, `forgetting`, `boltzmann`, `attention`,
`rank_collapse`, `tiny_transformers`, `ddpm`,
`image_energy`, `reconstruction`, `continual`, `stats`, ...); the book's machinery (chapters and
their parameters, claims and the prose that cites them, fingerprints, running and building) in the
rest. README.md lists them all.
"""

__version__ = "0.1.0"
