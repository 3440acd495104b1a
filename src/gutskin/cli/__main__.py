"""``python -m gutskin.cli``: the same as the ``gutskin`` command."""

import sys

from gutskin.cli.app import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
