"""Thin wrapper, kept for old command lines: `python bench/quality.py ARGS` == `bitrag bench quality ARGS`.

The benchmark lives in server/bitrag_server/bench/quality.py (see `bitrag bench quality --help`).
"""

from __future__ import annotations

import sys

from bitrag.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "quality", *sys.argv[1:]]))
