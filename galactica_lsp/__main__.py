"""``python -m galactica_lsp``: the same as the ``galactica-lsp`` command."""

import sys

from .cli import main

sys.exit(main())
