"""``python -m gateway.reference [--check]``: regenerate (or check) the docs' reference tables."""

from __future__ import annotations

import argparse
import sys

from .splice import documents, render, stale


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.reference")
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is out of date")
    if parser.parse_args().check:
        out_of_date = stale()
        for name in out_of_date:
            print(f"{name}: generated tables are out of date; run `make docs`", file=sys.stderr)
        return 1 if out_of_date else 0
    for path in documents():
        text = path.read_text("utf-8")
        new = render(text)
        if new != text:
            path.write_text(new, "utf-8")
            print(f"updated {path.name}")
    return 0


sys.exit(main())
