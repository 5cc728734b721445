"""The project's tiny trained model: a small OPT that has memorised a small corpus.

Owns: the corpus (``corpus``: citations in Galactica's ``[START_REF]`` format,
formula explanations, ``<work>`` step-by-step answers, SymPy translations and
LaTeX/Markdown/Python snippets), the deterministic build that trains a BPE
tokenizer with the structure of Galactica's and an ``OPTForCausalLM`` on it
(``build``), and the artifact itself in ``model/``. The artifact loads through
exactly the path a real checkpoint takes (``opt.load`` on a directory),
so tests can assert real outputs of the real loading and decoding code.
Rebuild with ``python -m galactica_lsp.tiny.build``.
"""

# The checked-in artifact (config, generation config, safetensors weights, tokenizer files); the engine's
# catalogue names where it lives, so that the engine never imports this package.
from ..engine.catalogue import TINY_MODEL_DIR

__all__ = ["TINY_MODEL_DIR"]
