#!/usr/bin/env python3
"""Set up and run galactica-lsp from a checkout: the two commands of the README's quick start.

    python3 dev.py serve [ARGS...]   the language server on stdio, on the bundled tiny model
                                     (runs ``galactica-lsp --model tiny ARGS...``)
    python3 dev.py test [ARGS...]    the tests (runs ``pytest ARGS...``)
    python3 dev.py setup             only the set-up; prints the server's path for the editors

Owns: the checkout's virtual environment ``.venv`` (made on first use, repaired when an earlier
run was interrupted, installed again when ``pyproject.toml`` changed, untouched otherwise: then no
pip runs at all) and, for ``test``, the editor tests' tools outside the repository (through
``editors/vscode/scripts/setup-test-env.sh``; skipped when the tests asked for leave the editor
tests out) and the remote-engine tests' vLLM (``scripts/setup-vllm.sh``, likewise only when
``tests/remote`` or the ``remote`` marker can be selected). Needs nothing but the Python 3 it
runs on: no make, no other tool.

The environment: ``torch==2.13.0`` first and alone (a resolve that starts from the project would
be free to pick a torch pulling gigabytes of CUDA wheels), then ``-e ".[test]"``. A stamp in
``.venv`` (the hash of ``pyproject.toml``, the recipe, the venv's place) is written only once both
installs succeeded; no stamp or another stamp means install again. Progress and errors go to
stderr, never stdout (``serve``'s stdout carries the protocol); pip's own output goes to
``.venv/setup.log``. A failed step is one line on stderr and exit status 6.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYPROJECT = ROOT / "pyproject.toml"
STAMP = VENV / "galactica-dev.json"
LOG = VENV / "setup.log"
TOOLS_SCRIPT = ROOT / "editors" / "vscode" / "scripts" / "setup-test-env.sh"
TOOLS_CANNOT_RUN = 3  # setup-test-env.sh's status when it cannot install here (no apt-get, not root)
EDITOR_TESTS = ROOT / "tests" / "editors"
EDITOR_MARK = "editor"
VLLM_SCRIPT = ROOT / "scripts" / "setup-vllm.sh"
REMOTE_TESTS = ROOT / "tests" / "remote"
REMOTE_MARK = "remote"
VLLM_PYTHON_ENV = "GALACTICA_VLLM_PYTHON"  # where tests/remote finds the vLLM venv's python

TORCH = "torch==2.13.0"
# The installs, in order; changing them (or pyproject.toml) installs again.
INSTALLS = ([TORCH], ["-e", f"{ROOT}[test]"])
RECIPE = 1  # bump when what a finished environment means changes in a way INSTALLS does not show

WINDOWS = os.name == "nt"
BIN = VENV / ("Scripts" if WINDOWS else "bin")
PYTHON = BIN / ("python.exe" if WINDOWS else "python")
SERVER = BIN / ("galactica-lsp.exe" if WINDOWS else "galactica-lsp")

EXIT_SETUP = 6  # apart from pytest's 0-5 and galactica-lsp's 1-5
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

USAGE = """usage: python3 dev.py serve [galactica-lsp args...]   the language server on stdio (--model tiny unless you pass --model)
       python3 dev.py test [pytest args...]          the tests (-m "not editor": the fast lane, no editor tools)
       python3 dev.py setup                          only the set-up; prints the server's path

The first run makes .venv here (torch, then the project with its test extra); `test` also installs
the editor tests' tools under ~/.cache/galactica-lsp/editor-tools and, for the remote-engine tests
(tests/remote, -m remote), vLLM's CPU build under ~/.cache/galactica-lsp/vllm-venv. Remove them to
start over: rm -rf .venv ~/.cache/galactica-lsp/editor-tools ~/.cache/galactica-lsp/vllm-venv"""


class SetupError(Exception):
    """A set-up step failed; the message is the one line the user reads."""


def say(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


# -- the virtual environment -------------------------------------------------------------------


def required_python(pyproject: str) -> tuple[int, ...]:
    """The lowest Python ``requires-python`` allows (``>=3.11`` → (3, 11)); () if it names none."""
    found = re.search(r'^requires-python\s*=\s*["\']\s*>=\s*(\d+(?:\.\d+)*)', pyproject, re.MULTILINE)
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def wanted_stamp(pyproject: bytes, venv: Path) -> dict:
    """What the stamp of a finished environment for this pyproject.toml, in ``venv``, says."""
    return {
        "recipe": RECIPE,
        "installs": [list(args) for args in INSTALLS],
        "pyproject": hashlib.sha256(pyproject).hexdigest(),
        "venv": str(venv),
    }


def read_stamp() -> dict | None:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return None


def write_stamp(stamp: dict) -> None:
    """Write it whole or not at all (an interrupted write leaves no stamp)."""
    tmp = STAMP.with_name(STAMP.name + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=1) + "\n")
    os.replace(tmp, STAMP)


def runs(python: Path, code: str = "") -> bool:
    """Whether ``python -c code`` exits 0 (False when it is missing or broken)."""
    if not python.exists():
        return False
    try:
        return subprocess.run([str(python), "-I", "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def ready(wanted: dict) -> bool:
    """The fast path: the venv's Python runs and the stamp says this pyproject.toml is installed."""
    return read_stamp() == wanted and SERVER.exists() and runs(PYTHON)


def check_python() -> None:
    need = required_python(PYPROJECT.read_text())
    if need and sys.version_info[: len(need)] < need:
        wanted = ".".join(map(str, need))
        raise SetupError(f"the project needs Python >= {wanted}; this is {sys.version.split()[0]} "
                         f"({sys.executable}): run dev.py with a newer one, e.g. python{wanted} dev.py")


def create_venv() -> None:
    if VENV.exists() or VENV.is_symlink():
        say(f"{VENV.name} is unusable (an interrupted first run, a moved checkout or a removed Python): making it again")
        if VENV.is_symlink() or VENV.is_file():
            VENV.unlink()
        else:
            shutil.rmtree(VENV)
    say(f"making the virtual environment {VENV}")
    made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if made.returncode != 0 or not runs(PYTHON, "import pip"):
        why = " ".join((made.stderr or made.stdout).split()) or "pip is missing from it"
        if "ensurepip" in why:
            why += " (on Debian or Ubuntu: apt-get install python3-venv)"
        raise SetupError(f"{sys.executable} -m venv {VENV} failed: {why}")


def pip_error(output: str) -> str:
    """The lines of pip's output that say what went wrong (its ``ERROR:`` lines, else its last ``error:``)."""
    lines = [line.strip() for line in output.splitlines()]
    errors = list(dict.fromkeys(line for line in lines if line.startswith("ERROR:")))
    if errors:
        return " ".join(errors[-2:])
    return next((line for line in reversed(lines) if line.lower().startswith("error")), "")


def pip_install(args: list[str], log) -> None:
    command = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *args]
    shown = "pip install " + " ".join(args)
    say(f"{shown} (output in {LOG.relative_to(ROOT)})")
    started = time.monotonic()
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    log_start = log.tell()
    status = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        log.flush()
        why = pip_error(LOG.read_bytes()[log_start:].decode(errors="replace")) or "see the log"
        raise SetupError(f"{shown} failed (exit {status}): {why} [full output: {LOG}]")
    say(f"  done in {time.monotonic() - started:.0f} s")


def ensure_venv() -> None:
    """Make ``.venv`` ready for this pyproject.toml; no pip when it already is."""
    wanted = wanted_stamp(PYPROJECT.read_bytes(), VENV)
    if ready(wanted):
        return
    check_python()
    with setup_lock():
        if ready(wanted):  # another run finished it while this one waited
            return
        started = time.monotonic()
        stamp = read_stamp()
        moved = stamp is not None and stamp.get("venv") != str(VENV)
        if moved or not runs(PYTHON, "import pip"):
            create_venv()
        if STAMP.exists():
            STAMP.unlink()  # until both installs succeed again
        with open(LOG, "a") as log:
            for args in INSTALLS:
                pip_install(list(args), log)
        write_stamp(wanted)
        say(f"{VENV.name} is ready ({time.monotonic() - started:.0f} s); remove it with: rm -rf {VENV}")


class setup_lock:
    """One set-up at a time per checkout (two first runs at once would install over each other)."""

    def __init__(self) -> None:
        key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:16]
        self.path = Path(tempfile.gettempdir()) / f"galactica-lsp-dev-{key}.lock"
        self.file = None

    def __enter__(self):
        if WINDOWS:
            return self
        import fcntl

        self.file = open(self.path, "w")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another dev.py that is setting up this checkout")
            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()


# -- the editor tests' tools -------------------------------------------------------------------

# pytest options whose value is the next argument (so it is not taken for a test path).
VALUE_OPTIONS = {
    "-k", "-m", "-p", "-c", "-o", "-W", "--deselect", "--ignore", "--ignore-glob", "--rootdir", "--basetemp",
    "--confcutdir", "--junitxml", "--junit-xml", "--log-file", "--tb", "--maxfail", "--durations",
    "--override-ini", "--config-file", "--import-mode", "--capture", "--log-level", "--log-cli-level",
    "--pythonwarnings", "--junit-prefix", "--debug", "--color",
}
MARK_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z_][\w.-]*)")


def mark_selects_editor(expression: str, mark: str = EDITOR_MARK) -> bool:
    """Whether a ``-m`` expression can select a test marked ``mark`` (True when it cannot be read)."""
    tokens, pos = [], 0
    while pos < len(expression.rstrip()):
        found = MARK_TOKEN.match(expression, pos)
        if not found:
            return True
        tokens.append(found.group(1))
        pos = found.end()
    words = {"and", "or", "not", "(", ")"}
    python = " ".join(t if t in words else str(t == mark) for t in tokens)
    try:
        return bool(eval(python, {"__builtins__": {}}, {}))  # only True/False/and/or/not/parentheses
    except SyntaxError:
        return True


def selects_editor_tests(args: list[str], cwd: Path | None = None, tests: Path = EDITOR_TESTS,
                         mark: str = EDITOR_MARK) -> bool:
    """Whether ``pytest ARGS`` can run an editor test (then their tools are needed).

    With ``tests`` and ``mark``: whether it can run a test in that folder with that marker.
    """
    cwd = cwd or Path.cwd()
    wanted, mark, paths, ignored = mark, None, [], []
    i = 0
    while i < len(args):
        arg = args[i]
        option, _, attached = arg.partition("=") if arg.startswith("--") else (arg[:2], None, arg[2:])
        if arg.startswith("-") and option in VALUE_OPTIONS:
            value = attached if attached else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if attached else 2
            if option == "-m":
                mark = value
            elif option == "--ignore":
                ignored.append((cwd / value).resolve())
            continue
        if not arg.startswith("-"):
            path = (cwd / arg.split("::")[0]).resolve()
            if path.exists():
                paths.append(path)
        i += 1
    if mark is not None and not mark_selects_editor(mark, wanted):
        return False
    editors = tests.resolve()
    if any(editors == path or path in editors.parents for path in ignored):
        return False
    if not paths:
        return True
    return any(path == editors or path in editors.parents or editors in path.parents for path in paths)


def ensure_editor_tools() -> None:
    """Install (once, outside the repository) what the editor tests drive, and build the .vsix."""
    if not sys.platform.startswith("linux"):
        say("the editor tests' tools are installed on Linux only; the VS Code test will say what it lacks")
        return
    if shutil.which("bash") is None:
        raise SetupError("the editor tests' tools need bash to install")
    started = time.monotonic()
    done = subprocess.run(["bash", str(TOOLS_SCRIPT)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    if done.returncode == TOOLS_CANNOT_RUN:
        say("the VS Code test's tools cannot be installed here (see the line above); that test will be skipped")
        return
    if done.returncode != 0:
        raise SetupError(f"installing the editor tests' tools failed (bash {TOOLS_SCRIPT.relative_to(ROOT)} "
                         f"exited {done.returncode}; its messages are above)")
    if time.monotonic() - started > 5:
        say(f"editor test tools ready ({time.monotonic() - started:.0f} s)")


# Head sizes vLLM's CPU attention supports (tests/remote/conftest.py checks the same).
VLLM_CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def vllm_cannot_serve_tiny() -> str | None:
    """Why vLLM's CPU build cannot serve the bundled tiny model (its head size), or None when it can."""
    config = json.loads((ROOT / "galactica_lsp" / "tiny" / "model" / "config.json").read_text())
    head = config["hidden_size"] // config["num_attention_heads"]
    if head not in VLLM_CPU_HEAD_SIZES:
        return f"the tiny model's head size {head} is not one vLLM's CPU attention supports"
    return None


def ensure_vllm() -> None:
    """Install (once, outside the repository) the vLLM that the remote-engine tests start; tell them where it is."""
    if not sys.platform.startswith("linux") or shutil.which("bash") is None:
        say("vLLM's CPU build installs on Linux only; the remote-engine tests will be skipped")
        return
    started = time.monotonic()
    done = subprocess.run(["bash", str(VLLM_SCRIPT)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SetupError(f"installing vLLM for the remote-engine tests failed (bash {VLLM_SCRIPT.relative_to(ROOT)} "
                         f"exited {done.returncode}; its messages are above)")
    os.environ[VLLM_PYTHON_ENV] = done.stdout.strip().splitlines()[-1]
    if time.monotonic() - started > 5:
        say(f"vLLM ready ({time.monotonic() - started:.0f} s)")


# -- the commands ------------------------------------------------------------------------------


def run(program: Path, args: list[str], env: dict | None = None) -> None:
    """Become ``program args`` (its stdin, stdout and exit status are the caller's)."""
    argv = [str(program), *args]
    if WINDOWS:
        sys.exit(subprocess.run(argv, env=env).returncode)
    os.execve(argv[0], argv, env if env is not None else os.environ)


def venv_env() -> dict:
    """The environment as if ``.venv`` were activated (the editor tests look for ``nvim`` on PATH)."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.pop("PYTHONHOME", None)
    return env


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test", "setup"):
        print(USAGE, file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help", "help") else EXIT_USAGE
    verb, args = argv[0], argv[1:]
    try:
        ensure_venv()
        if verb == "test" and selects_editor_tests(args):
            ensure_editor_tools()
        if verb == "test" and selects_editor_tests(args, tests=REMOTE_TESTS, mark=REMOTE_MARK):
            reason = vllm_cannot_serve_tiny()
            if reason:  # the remote tests skip for the same reason: no 2.6 GB install for them
                say(f"vLLM not installed: {reason}; the remote-engine tests will be skipped")
            else:
                ensure_vllm()
    except SetupError as error:
        say(str(error))
        return EXIT_SETUP
    except KeyboardInterrupt:
        say("interrupted; the next run finishes the set-up")
        return EXIT_INTERRUPTED
    if verb == "serve":
        run(SERVER, ["--model", "tiny", *args])  # a later --model wins
    elif verb == "test":
        run(PYTHON, ["-m", "pytest", *args], env=venv_env())
    else:
        print(SERVER)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
