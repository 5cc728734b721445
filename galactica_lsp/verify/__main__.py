"""``python -m galactica_lsp.verify "Title, First author"``: the verify command alone (no torch)."""

import sys

from .cli import main

sys.exit(main())
