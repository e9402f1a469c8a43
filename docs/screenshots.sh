#!/usr/bin/env bash
# docs/screenshots.sh: redoes docs/notebook-run.png and docs/notebook-plot.png,
# the tutorial notebook examples/quickstart.ipynb as a person sees it in
# JupyterLab: the `%%expman run` cell (live table in its final state, then the
# per-trial summary) and the `%expman plot` cell (the Vega-Lite chart).
#
#   docs/screenshots.sh            from the repository root, after `cargo build`
#                                  and tests/run.sh (which makes .venv-test)
#
# What it does:
#   1. executes the notebook headless with nbclient, through
#      tests/kernel/test_notebook.py (so its outputs are checked too), keeping
#      the executed copy (EXPMAN_KEEP_NOTEBOOK);
#   2. serves that copy with JupyterLab from a throwaway virtualenv outside the
#      repository ($EXPMAN_JLAB_VENV, default /tmp/expman-jlab; created with
#      jupyterlab, pillow and websocket-client when missing), on 127.0.0.1, a
#      free port and a random token, with scratch Jupyter directories and the
#      expman kernelspec (`expman kernel install --prefix`) on JUPYTER_PATH;
#      the notebook is trusted (`jupyter trust`) so its HTML tables keep their
#      styles, as after running it yourself;
#   3. opens it in headless Chromium (apt-get install chromium) and drives it
#      over the DevTools protocol: waits for the cells, the expman kernel and
#      the chart, closes the side bars, and captures each cell with the
#      markdown heading above it;
#   4. stops Chromium and JupyterLab by their PIDs (JupyterLab shuts its
#      kernel down) and removes its scratch directory, also on failure.
#
# Nothing is installed into the repository; only the two PNGs are written.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

expman="${EXPMAN_BIN:-$repo/target/debug/expman}"
venv="${EXPMAN_JLAB_VENV:-/tmp/expman-jlab}"
chromium="${CHROMIUM:-chromium}"

[[ -x "$expman" ]] || { echo "no $expman: run cargo build first" >&2; exit 1; }
[[ -x .venv-test/bin/pytest ]] || { echo "no .venv-test: run tests/run.sh first" >&2; exit 1; }
command -v "$chromium" >/dev/null || { echo "no chromium: apt-get install chromium" >&2; exit 1; }
if [[ ! -x "$venv/bin/jupyter-lab" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check jupyterlab pillow websocket-client
fi

work="$(mktemp -d /tmp/expman-screenshots.XXXXXX)"
lab_pid=""
chrome_pid=""
cleanup() {
  # Only what this script started, by PID.
  if [[ -n "$chrome_pid" ]] && kill -0 "$chrome_pid" 2>/dev/null; then
    kill "$chrome_pid" 2>/dev/null || true
    wait "$chrome_pid" 2>/dev/null || true
  fi
  if [[ -n "$lab_pid" ]] && kill -0 "$lab_pid" 2>/dev/null; then
    kill -INT "$lab_pid" 2>/dev/null || true # like Ctrl-C: shuts the kernel down
    sleep 1
    kill -TERM "$lab_pid" 2>/dev/null || true
    wait "$lab_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> executing the notebook (tests/kernel/test_notebook.py)" >&2
mkdir -p "$work/root"
EXPMAN_BIN="$expman" EXPMAN_KEEP_NOTEBOOK="$work/root/quickstart.ipynb" \
  .venv-test/bin/pytest -c tests/pytest.ini -q -p no:cacheprovider tests/kernel/test_notebook.py
# The experiment next to it, as in examples/ (the file browser shows it).
cp -r examples/quickstart "$work/root/quickstart"
rm -rf "$work/root/quickstart/outputs" "$work/root/quickstart/__pycache__"

echo "==> JupyterLab" >&2
"$expman" kernel install --prefix "$work/kernels" >/dev/null
export JUPYTER_PATH="$work/kernels/share/jupyter"
export JUPYTER_DATA_DIR="$work/data" JUPYTER_RUNTIME_DIR="$work/runtime" JUPYTER_CONFIG_DIR="$work/config"
export JUPYTERLAB_SETTINGS_DIR="$work/settings" JUPYTERLAB_WORKSPACES_DIR="$work/workspaces"
# No news or update toasts; every cell rendered (no windowing) so any cell can be measured.
mkdir -p "$work/settings/@jupyterlab/apputils-extension" "$work/settings/@jupyterlab/notebook-extension"
echo '{"checkForUpdates": false, "fetchNews": "false"}' \
  >"$work/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
echo '{"windowingMode": "none"}' >"$work/settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
"$venv/bin/jupyter" trust "$work/root/quickstart.ipynb" >/dev/null

free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
cdp_port="$(free_port)"
token="$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
root_flag=()
[[ $EUID -eq 0 ]] && root_flag=(--allow-root)
"$venv/bin/jupyter-lab" "${root_flag[@]}" --no-browser --ip=127.0.0.1 --port="$port" \
  --IdentityProvider.token="$token" --ServerApp.root_dir="$work/root" \
  --LabApp.expose_app_in_browser=True >"$work/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$port/api/status?token=$token" >/dev/null && break
  kill -0 "$lab_pid" 2>/dev/null || { cat "$work/lab.log" >&2; exit 1; }
  sleep 0.5
done

echo "==> Chromium (headless)" >&2
sandbox=()
[[ $EUID -eq 0 ]] && sandbox=(--no-sandbox)
"$chromium" --headless=new "${sandbox[@]}" --user-data-dir="$work/chrome" --remote-debugging-port="$cdp_port" \
  --remote-allow-origins="http://127.0.0.1:$cdp_port" --window-size=1400,1800 --hide-scrollbars about:blank \
  >"$work/chrome.log" 2>&1 &
chrome_pid=$!
for _ in $(seq 60); do
  curl -sf "http://127.0.0.1:$cdp_port/json/version" >/dev/null && break
  kill -0 "$chrome_pid" 2>/dev/null || { cat "$work/chrome.log" >&2; exit 1; }
  sleep 0.5
done

cat >"$work/shots.py" <<'PY'
"""Opens the notebook in JupyterLab in the headless Chromium (DevTools
protocol), then captures cells: argv = DevTools port, notebook URL, docs dir."""
import base64, io, json, sys, time, urllib.request

import websocket
from PIL import Image

cdp_port, url, docs = sys.argv[1:4]
page = next(t for t in json.load(urllib.request.urlopen(f"http://127.0.0.1:{cdp_port}/json")) if t["type"] == "page")
ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
seq = 0


def call(method, **params):
    global seq
    seq += 1
    ws.send(json.dumps({"id": seq, "method": method, "params": params}))
    while True:
        msg = json.loads(ws.recv())
        if msg.get("id") == seq:
            if "error" in msg:
                raise RuntimeError(f"{method}: {msg['error']}")
            return msg["result"]


def js(expr):
    r = call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
    if "exceptionDetails" in r:
        raise RuntimeError(f"{expr[:80]}: {r['exceptionDetails'].get('exception', {}).get('description')}")
    return r["result"].get("value")


def wait_for(expr, what, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if js(expr):
                return
        except RuntimeError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


CELLS = "[...document.querySelectorAll('.jp-Notebook .jp-Cell')]"

call("Page.enable")
call("Emulation.setDeviceMetricsOverride", width=1400, height=1800, deviceScaleFactor=1, mobile=False)
call("Page.navigate", url=url)
wait_for(f"{CELLS}.length > 10", "the notebook")
wait_for("!!window.jupyterapp", "JupyterLab")
js("window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); true")
wait_for(
    "(() => { const w = [...window.jupyterapp.shell.widgets('main')].find(w => w.sessionContext);"
    " return !!w && w.sessionContext.kernelDisplayName === 'expman'"
    " && w.sessionContext.kernelDisplayStatus === 'idle'; })()",
    "the expman kernel",
)
wait_for("!!document.querySelector('.jp-RenderedVegaCommon5 svg, .jp-RenderedVegaCommon5 canvas')", "the chart", 30)
time.sleep(1.5)  # fonts, the chart's last layout


def shot(source, name):
    """The code cell starting with `source`, with the markdown cell above it."""
    find = (
        f"{CELLS}.findIndex(c => c.classList.contains('jp-CodeCell') && "
        f"c.querySelector('.jp-InputArea-editor').textContent.trim().startsWith({json.dumps(source)}))"
    )
    i = js(find)
    if i is None or i < 1:
        raise SystemExit(f"no code cell starting with {source!r}")
    js(f"{CELLS}[{i - 1}].scrollIntoView({{block: 'start'}}); true")
    time.sleep(0.5)
    r = js(
        f"(() => {{ const c = {CELLS}; const a = c[{i - 1}].getBoundingClientRect(),"
        f" b = c[{i}].getBoundingClientRect();"
        " return {x: a.left, y: a.top, w: Math.max(a.right, b.right) - a.left, h: b.bottom - a.top}; })()"
    )
    pad = 8
    clip = {"x": max(r["x"] - pad, 0), "y": max(r["y"] - pad, 0), "width": r["w"] + 2 * pad,
            "height": r["h"] + 2 * pad, "scale": 1}
    png = base64.b64decode(call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"])
    image = Image.open(io.BytesIO(png)).convert("RGB")
    # Keep it under 400 KB (it is ~100-200 KB at full size).
    while image.width > 900:
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        if out.tell() < 400_000:
            break
        image = image.resize((image.width * 4 // 5, image.height * 4 // 5), Image.LANCZOS)
    path = f"{docs}/{name}"
    image.save(path, "PNG", optimize=True)
    print(f"{path}: {image.width}x{image.height}")


shot("%%expman run --dir quickstart", "notebook-run.png")
shot("%expman plot", "notebook-plot.png")
call("Browser.close")
PY

echo "==> screenshots" >&2
mkdir -p docs
"$venv/bin/python" "$work/shots.py" "$cdp_port" "http://127.0.0.1:$port/lab/tree/quickstart.ipynb?token=$token" "$repo/docs"
wait "$chrome_pid" 2>/dev/null || true
chrome_pid=""
