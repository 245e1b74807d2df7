"""Thin wrapper, kept for old command lines: `python bench/gate.py ARGS` == `bitrag bench gate ARGS`.

The benchmark lives in server/bitrag_server/bench/gate.py (see `bitrag bench gate --help`).
"""

from __future__ import annotations

import sys

from bitrag.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "gate", *sys.argv[1:]]))
