"""``python -m ipinsights.serve [options]``: the same as ``ipinsights serve``."""

import sys

from ipinsights.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(["serve", *sys.argv[1:]]))
