"""galactica-lsp: Meta's Galactica model behind the Language Server Protocol.

Package layout (each module's docstring says what it owns):

- ``engine``: the model side: catalogue of sizes, devices, memory planning,
  loading, Galactica's text rules, decoding and the worker thread.
- ``tiny``: the project's own tiny trained model, used by tests and offline demos.
- ``analysis``: pure text analysis (math spans, citation triggers, completion gate).
- ``cli``: the ``galactica-lsp`` command.
"""

import os

# A language server shares the CPU with the editor and everything else. Torch's
# OpenMP threads must sleep, not spin, while they wait for work: spinning on a
# busy 2-core machine made decoding a hundred times slower. But sleeping at once
# made them sleep and wake between every two operations of a decoding step: a
# 48-token explanation took 1.8 s instead of 1.3 s. So they spin a little
# (100,000 turns, tens of microseconds: the gap between two operations), then
# sleep; the slow case did not come back (the LSP tests took 174 s against 170 s
# with no spinning). Set before torch loads; the user's own values win.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "100000")

__version__ = "0.1.0"
