"""Write the server's settings into package.json's ``contributes.configuration``.

    python editors/vscode/scripts/sync-settings.py          # rewrite package.json
    python editors/vscode/scripts/sync-settings.py --check  # exit 1 when it is out of date

Every field of ``galactica_lsp.settings.Settings`` becomes ``galactica.<camelName>`` with its type,
default and description; the client-only ``galactica.server.*`` settings are kept as written.
``tests/editors/test_vscode.py`` checks the result against the server independently.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from galactica_lsp.engine.ct2 import ENGINES
from galactica_lsp.engine.devices import DEVICES, DTYPES
from galactica_lsp.engine.vllm_backend import REMOTE_ENGINES
from galactica_lsp.settings import LANGUAGES, SECTION, Settings, camel, to_wire
from galactica_lsp.verify import SOURCES

PACKAGE = Path(__file__).resolve().parents[1] / "package.json"
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
ENUMS = {"device": list(DEVICES), "dtype": list(DTYPES), "engine": [*ENGINES, *REMOTE_ENGINES]}


def properties() -> dict[str, dict]:
    defaults = to_wire(Settings())
    out = {}
    for order, f in enumerate(dataclasses.fields(Settings)):
        name = camel(f.name)
        prop: dict = {"type": JSON_TYPES[type(defaults[name])], "default": defaults[name]}
        if name in ENUMS:
            prop["enum"] = ENUMS[name]
        if name == "languages":
            prop["items"] = {"type": "string", "enum": list(LANGUAGES)}
        if name == "verify":
            prop["items"] = {"type": "string", "enum": list(SOURCES)}
        if name == "verifyEndpoints":
            prop["additionalProperties"] = {"type": "string"}
        prop["description"] = f.metadata["doc"]
        prop["order"] = order
        out[f"{SECTION}.{name}"] = prop
    return out


def main() -> int:
    package = json.loads(PACKAGE.read_text())
    current = package["contributes"]["configuration"]["properties"]
    client_only = {k: v for k, v in current.items() if k.startswith(f"{SECTION}.server.")}
    wanted = {**properties(), **client_only}
    if "--check" in sys.argv:
        if current != wanted:
            print(f"{PACKAGE} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    package["contributes"]["configuration"]["properties"] = wanted
    PACKAGE.write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
