"""``python -m ipinsights.cli``: the ``ipinsights`` command (how ``train --nproc`` starts its workers)."""

import sys

from ipinsights.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
