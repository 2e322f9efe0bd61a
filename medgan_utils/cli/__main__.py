"""``python -m medgan_utils.cli``: the same as the ``medgan`` command."""

import sys

from medgan_utils.cli import main

if __name__ == "__main__":
    sys.exit(main())
