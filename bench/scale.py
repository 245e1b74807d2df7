"""Thin wrapper: `python bench/scale.py ARGS` == `bitrag bench scale ARGS` (see its --help)."""

from __future__ import annotations

import sys

from bitrag.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "scale", *sys.argv[1:]]))
