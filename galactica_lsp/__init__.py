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
# busy 2-core machine made decoding a hundred times slower (set before torch loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
