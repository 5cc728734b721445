"""Start-up: the imports a load needs can run ahead of it, on the engine's worker thread, and transformers is not one."""

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
watched = ('torch', 'tokenizers', 'transformers', 'galactica_lsp.engine.decoding', 'galactica_lsp.engine.opt')
print(json.dumps({'before': before, 'after': [m for m in watched if m in sys.modules],
                  'job': [timing.label, timing.outcome], 'state': engine.state}))
"""


def test_preload_imports_torch_and_the_backend_but_not_transformers_on_the_worker_without_loading_a_model():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "before": False,
        # transformers is not imported: the forward pass is the server's own (it took 2.2 s of a 3.9 s start-up).
        "after": ["torch", "tokenizers", "galactica_lsp.engine.decoding", "galactica_lsp.engine.opt"],
        "job": ["import torch", "done"],
        "state": "empty",
    }


SERVE = """
import json, sys
from galactica_lsp.engine.loading import load
from galactica_lsp.engine.service import Galactica
from galactica_lsp.engine.types import DecodeSettings
g = Galactica(load('tiny', device='cpu'))
text = g.complete('The Transformer architecture relies on', DecodeSettings(max_new_tokens=8))[0].text
print(json.dumps({'text': bool(text.strip()), 'transformers': 'transformers' in sys.modules}))
"""


def test_loading_and_serving_the_tiny_model_never_imports_transformers():
    done = subprocess.run([sys.executable, "-c", SERVE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"text": True, "transformers": False}
