"""hopbook: the helper package behind the Hopfield-memory reproduction book.

Math lives in one module per concept (`gram`, `hopfield`, `keys`, `stats`); the book's machinery
(chapters and their parameters, claims and results, running and building) in the rest.
"""

__version__ = "0.1.0"
