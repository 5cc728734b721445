"""``python -m galactica_lsp.verify "Title, First author"``: the verify command without the rest of the CLI (no torch)."""

import sys

from .cli import main

sys.exit(main())
