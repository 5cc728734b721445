"""Start-up: the imports a load needs can run ahead of it, on the engine's worker thread."""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
from galactica_lsp.engine.service import Engine
engine = Engine()
before = 'torch' in sys.modules
engine.preload().future.result(timeout=300)
timing = engine.worker.timings[-1]
engine.shutdown()
watched = ('torch', 'transformers', 'transformers.models.opt.modeling_opt', 'galactica_lsp.engine.decoding')
print(json.dumps({'before': before, 'after': [m for m in watched if m in sys.modules],
                  'job': [timing.label, timing.outcome], 'state': engine.state}))
"""


def test_preload_imports_torch_and_transformers_on_the_worker_without_loading_a_model():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "before": False,
        "after": ["torch", "transformers", "transformers.models.opt.modeling_opt", "galactica_lsp.engine.decoding"],
        "job": ["import torch", "done"],
        "state": "empty",
    }
