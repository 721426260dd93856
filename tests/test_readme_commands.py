"""Every command that README.md and the pages it links (docs/*.md) show in a code block runs, here,
on a copy of the repository with nothing beside it (a clone alone: the 7-day sample is the data).

How each command runs is written in ``COMMANDS``, keyed by the command as the page writes it:

- ``run()``: as written;
- ``run("...")``: as given here instead, to make it quick or to point it at something local
  (``{archive}`` is a local copy of Binance's archive serving the sample as 2025-03);
- ``serve(path)``: a server, started (``{port}`` is a free port), asked for ``path`` until it
  answers 200, then stopped; ``needs_feed`` first starts a feed service (``{feed}`` its URL);
- ``skip("why")``: not run here, and why.

A command in the pages that is not in the table fails ``test_every_command_is_in_the_table``, and
an entry no page shows any more fails ``test_every_entry_is_still_in_the_pages``: when a page
changes, add or remove its row here. Commands are read from fenced and indented code blocks;
a line is a command when, after any ``NAME=value`` settings, it starts with one of
``COMMAND_WORDS`` or ``.venv/bin/``. Backslash-continued lines are joined, comments dropped, and
the text normalised by ``shlex`` (so quoting does not matter for the key).

The commands run with ``PYTHONPATH`` set to the copy, from the copy, so what they write (models,
JSON, the store) stays there. ``python3 run.py TASK`` and ``make TASK`` run what run.py runs for
that task (``RUN_PY``) in this test's environment, so run.py does not install one of its own.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from cryptousd.config import PROJECT_ROOT
from cryptousd.data.locate import SAMPLE_FILE

from .browser import free_port
from .feed_server import feed_server
from .test_binance_vision import SPOT, write_checksum

BIN = Path(sys.executable).parent
COMMAND_WORDS = ("python3", "python", "cryptousd", "papermill", "make", "pip", "jupyter", "voila")
RUN_PY = {  # run.py's tasks, as run.py runs them once its environment is ready
    "dashboard": ["cryptousd", "dashboard"],
    "serve": ["cryptousd", "serve"],
    "notebooks": ["cryptousd", "notebooks"],
    "lab": ["jupyter", "lab", "notebooks/"],
    "test": ["python", "-m", "pytest", "-p", "no:cacheprovider"],
}
RUN_TIMEOUT_S = 300  # a command that takes longer is a hang, not a slow machine
SERVE_TIMEOUT_S = 180  # to the first answer of a server (Voila starts kernels)


@dataclass(frozen=True)
class How:
    argv: str | None = None  # the command as run here; None: as written
    serve: str = ""  # a server: the path to ask for until it answers
    skip: str = ""  # why it is not run here
    needs_feed: bool = False
    expect: str = ""  # text its output must contain


def run(instead: str | None = None, expect: str = "") -> How:
    return How(argv=instead, expect=expect)


def serve(path: str, instead: str, needs_feed: bool = False) -> How:
    return How(argv=instead, serve=path, needs_feed=needs_feed)


def skip(why: str) -> How:
    return How(skip=why)


SAMPLE = "cryptousd/sample/BTCUSDT-1m-2025-03-25_31.zip"
SAMPLE_SPLIT_ARGS = (
    "--train-start 2025-03-25 --train-end 2025-03-29 --val-start 2025-03-29 "
    "--val-end 2025-03-30T12:00 --test-start 2025-03-30T12:00 --test-end 2025-04-01"
)
VOILA_DOC = (  # deploy.md's command, as it shows it
    ".venv/bin/voila notebooks/06-live-dashboard.ipynb --no-browser --port=8866 "
    "--Voila.ip=127.0.0.1 --Voila.base_url=/cryptousd/ --token=$(openssl rand -hex 24) "
    "--preheat_kernel=True --pool_size=2 --Voila.tornado_settings=disable_check_xsrf=True "
    "--MappingKernelManager.cull_idle_timeout=120 --MappingKernelManager.cull_interval=30 "
    "--MappingKernelManager.cull_connected=False"
)
VOILA = (
    VOILA_DOC.replace("8866", "{port}")
    .replace("$(openssl rand -hex 24)", "readme-test")
    .replace("pool_size=2", "pool_size=1")
)
FETCH = "cryptousd fetch --source binance-vision --symbol BTCUSDT"

COMMANDS = {  # the command as a page shows it -> how it runs here (in the order of the pages)
    # README.md
    "python3 run.py dashboard": serve("/", "python3 run.py dashboard --port {port}"),
    "python3 run.py test": skip("the test suite itself, which runs this test"),
    "cryptousd evaluate --start 2025-03-30 --json eval.json": run(expect="persistence"),
    "cryptousd backtest --fee-bps 10 --json bt.json": run(
        expect="no forecast cleared the round-trip cost of 22 bps"
    ),
    "cryptousd research --quick --models ridge-flow": run(),
    f"{FETCH} --start 2024-01 --end 2025-03": run(
        f"{FETCH} --start 2024-01 --end 2025-03 --base-url {{archive}}",
        expect="1 downloaded, 0 already there, 14 not published (yet), 0 failed",
    ),
    "cryptousd data info": run(expect="2025-03-25 00:00 .. 2025-03-31 23:59     10,080 candles"),
    "cryptousd train --epochs 12 --stride 5 --out models/my-lstm": run(
        # the store holds the sample (the fetch above imported it): one quick epoch on its split
        f"cryptousd train --epochs 1 --stride 31 --out models/my-lstm {SAMPLE_SPLIT_ARGS}"
    ),
    "cryptousd serve --source replay --speed 60": serve(
        "/healthz", "cryptousd serve --source replay --speed 60 --port {port}"
    ),
    "cryptousd notebooks --quick --only 01 04": run(expect="04-backtest (quick parameters)"),
    # docs/results.md
    "cryptousd train --task direction --epochs 4 --stride 5 --out models/direction-btcusdt-1m": (
        run(
            "cryptousd train --task direction --epochs 1 --stride 5 "
            f"--out models/direction-btcusdt-1m {SAMPLE_SPLIT_ARGS}"
        )
    ),
    "cryptousd evaluate --model direction-btcusdt-1m --figure docs/direction-reliability.png "
    "--json eval.json": run(),
    ".venv/bin/cryptousd train --data store --variant direct --epochs 12 --stride 5 "
    "--out models/lstm-direct-btcusdt-1m": run(
        ".venv/bin/cryptousd train --data store --variant direct --epochs 1 --stride 31 "
        f"--out models/lstm-direct-btcusdt-1m {SAMPLE_SPLIT_ARGS}"
    ),
    # docs/data.md
    f".venv/bin/{FETCH} --interval 1m --start 2024-01 --end 2025-03": run(
        f".venv/bin/{FETCH} --interval 1m --start 2024-01 --end 2025-03 --base-url {{archive}}",
        expect="0 downloaded, 1 already there, 14 not published (yet), 0 failed",
    ),
    "cryptousd fetch --exchange coinbase --days 2": skip(
        "needs the internet (Coinbase through ccxt); tests/test_sources.py replays its replies"
    ),
    "cryptousd fetch --source yahoo --days 5": skip(
        "needs the internet (Yahoo); tests/test_sources.py replays its replies"
    ),
    "cryptousd fetch --archive data/archive/binance/spot/BTCUSDT-1m": run(
        expect="10,080 candles from 1 file(s)"
    ),
    # docs/research.md
    f"{FETCH} --start 2023-01 --end 2025-05": run(
        f"{FETCH} --start 2023-01 --end 2025-05 --base-url {{archive}}",
        expect="0 downloaded, 1 already there, 28 not published (yet), 0 failed",
    ),
    "cryptousd research --json research.json": run(
        "cryptousd research --quick --json research.json"  # the full study takes minutes
    ),
    # docs/development.md
    "python3 run.py notebooks --quick": run(
        "python3 run.py notebooks --quick --only 01 02",  # all six: tests/test_notebooks.py
        expect="02-build-candles (quick parameters)",
    ),
    "python3 run.py notebooks": skip(
        "the full parameters train for about 90 minutes; the --quick form runs above"
    ),
    ".venv/bin/papermill notebooks/04-backtest.ipynb runs/04.ipynb -p start 2025-03-29 "
    "-p stride 5 -p fee_bps 5": run(),
    ".venv/bin/papermill notebooks/03-train-lstm.ipynb runs/03.ipynb -p epochs 3 -p stride 31 "
    "-y variants: [direct]": run(
        # the store holds the sample's week (imported above): the ranges of a split inside it
        ".venv/bin/papermill notebooks/03-train-lstm.ipynb runs/03.ipynb -p epochs 3 "
        "-p stride 31 -y 'variants: [direct]' -y '{train_range: [2025-03-25, 2025-03-29], "
        "val_range: [2025-03-29, 2025-03-30 12:00], test_range: [2025-03-30 12:00, 2025-04-01]}'"
    ),
    "python3 run.py test tests/test_docs.py": run(expect="passed"),
    "python3 run.py lint": run("ruff check ."),  # and ruff format --check: CI runs both
    ".venv/bin/python tools/numeric_matrix.py": skip(
        "four runs of the numeric tests (about five minutes); .ci/run runs it after the suite"
    ),
    ".venv/bin/python tools/screenshot.py": run(".venv/bin/python tools/screenshot.py --out x.png"),
    # docs/deploy.md
    VOILA_DOC: serve("/cryptousd/?token=readme-test", VOILA),
    ".venv/bin/cryptousd serve --port 8000": serve(
        "/healthz", ".venv/bin/cryptousd serve --port {port}"
    ),
    # docs/feed.md
    "python3 run.py serve": serve("/", "python3 run.py serve --port {port}"),
    "CRYPTOUSD_SOURCE=feed python3 run.py dashboard": serve(
        "/",
        "CRYPTOUSD_SOURCE=feed CRYPTOUSD_FEED_URL={feed} python3 run.py dashboard --port {port}",
        needs_feed=True,
    ),
    "cryptousd serve [--symbols BTC/USD,ETH/USD] [--source auto|exchange|replay|simulated]": run(
        "cryptousd serve --help",
        expect="--symbols",  # a synopsis: its options, each tested
    ),
}


# ---- reading the pages ---------------------------------------------------------------------------


def pages() -> list[Path]:
    """README.md, every markdown page it links (and those they link), and every docs/*.md."""
    found, todo = [], [PROJECT_ROOT / "README.md"]
    while todo:
        page = todo.pop(0).resolve()
        if page in found or not page.is_file() or PROJECT_ROOT not in page.parents:
            continue
        found.append(page)
        links = re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
        todo += [page.parent / link for link in links]
    return found + [p for p in sorted((PROJECT_ROOT / "docs").glob("*.md")) if p not in found]


def code_blocks(text: str) -> list[list[str]]:
    """The lines of each fenced (``` or ~~~) and indented (4 spaces after a blank) code block."""
    blocks, current, fence, indented, blank = [], [], None, False, True
    for line in text.splitlines():
        if fence:
            if line.strip().startswith(fence):
                blocks.append(current)
                current, fence = [], None
            else:
                current.append(line)
            continue
        if re.match(r"\s*(```|~~~)", line):
            fence = line.strip()[:3]
        elif line.startswith("    ") and (indented or blank):
            current.append(line[4:])
            indented = True
        elif indented and not line.strip():
            current.append("")
        elif indented:
            blocks.append(current)
            current, indented = [], False
        blank = not line.strip()
    return [*blocks, current] if current else blocks


def commands_in(lines: list[str]) -> list[str]:
    """The commands in a block's lines, each joined over backslash continuations, normalised."""
    joined, out = "\n".join(lines).replace("\\\n", " "), []
    for line in joined.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:  # not shell (an nginx block, a table): no command in it
            continue
        i = next((k for k, w in enumerate(words) if not re.match(r"[A-Z_][A-Z0-9_]*=", w)), None)
        if i is not None and (words[i] in COMMAND_WORDS or words[i].startswith(".venv/bin/")):
            out.append(" ".join(words))
    return out


@functools.cache
def documented() -> dict[str, str]:
    """Each command the pages show (normalised), in order, with the page that first shows it."""
    found = {}
    for page in pages():
        for block in code_blocks(page.read_text(encoding="utf-8")):
            for command in commands_in(block):
                found.setdefault(command, page.name)
    return found


def key(text: str) -> str:
    return " ".join(shlex.split(text, comments=True))


TABLE = {key(k): v for k, v in COMMANDS.items()}


def test_the_reader_finds_commands_in_both_kinds_of_block():
    text = "intro\n\n    python3 run.py serve   # a comment\n    notebooks/  folders\n\n"
    text += "```bash\nX=1 cryptousd train \\\n    --epochs 2\nlocation / {\n```\n"
    blocks = code_blocks(text)
    assert [c for b in blocks for c in commands_in(b)] == [
        "python3 run.py serve",
        "X=1 cryptousd train --epochs 2",
    ]
    assert len(documented()) >= 10  # the README's own


def test_every_command_is_in_the_table():
    missing = [f"{c!r} ({page})" for c, page in documented().items() if c not in TABLE]
    assert not missing, "add to COMMANDS in tests/test_readme_commands.py: " + "; ".join(missing)


def test_every_entry_is_still_in_the_pages():
    stale = [c for c in TABLE if c not in documented()]
    assert not stale, f"no page shows these any more; remove them from COMMANDS: {stale}"


def test_every_command_not_run_says_why():
    assert all(len(how.skip) > 20 for how in TABLE.values() if how.skip)


# ---- running them --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The repository's files as a clone has them (tracked, or new and not ignored), alone in a
    temporary folder, committed in a git repository of its own: no ../shared beside it, no
    data/, no .venv/."""
    root = tmp_path_factory.mktemp("readme") / "CryptoUSD"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "clone"]):
        subprocess.run([*git, *step], cwd=root, check=True)  # a clone has its history
    return root


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A local copy of data.binance.vision that publishes one month, 2025-03 (the sample)."""
    root = tmp_path_factory.mktemp("vision")
    target = root / SPOT / "BTCUSDT-1m-2025-03.zip"
    target.parent.mkdir(parents=True)
    shutil.copy(SAMPLE_FILE, target)
    write_checksum(target)
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def as_run(text: str, clone: Path, **fill) -> tuple[list[str], dict]:
    """The argv and environment that run ``text`` here (see the module's docstring)."""
    for name, value in fill.items():  # not str.format: commands may hold braces
        text = text.replace("{" + name + "}", str(value))
    words = shlex.split(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRYPTOUSD_")}
    env.update(PYTHONPATH=str(clone), PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    while "=" in words[0] and re.match(r"[A-Z_][A-Z0-9_]*=", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    if words[0] == "make":  # the Makefile's targets are run.py's tasks
        assert f"\n{words[1]}:" in (clone / "Makefile").read_text(), words
        words = ["python3", "run.py", *words[1:]]
    if words[:2] == ["python3", "run.py"]:
        words = [*RUN_PY[words[2]], *words[3:]]
    head = words[0].removeprefix(".venv/bin/")
    if head == "cryptousd":
        return [sys.executable, "-m", "cryptousd.cli", *words[1:]], env
    if head in ("python", "python3"):
        return [sys.executable, *words[1:]], env
    return [str(BIN / head), *words[1:]], env


RUNNABLE = [c for c in documented() if c in TABLE and not TABLE[c].skip and not TABLE[c].serve]
SERVERS = [c for c in documented() if c in TABLE and TABLE[c].serve]


@pytest.mark.slow
@pytest.mark.parametrize("command", RUNNABLE)
def test_the_command_runs_on_a_clone_alone(command, clone, archive):
    how = TABLE[command]
    argv, env = as_run(how.argv or command, clone, archive=archive)
    out = subprocess.run(
        argv, cwd=clone, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )
    said = out.stdout + out.stderr
    assert out.returncode == 0, f"{command}\n{said[-3000:]}"
    assert how.expect in said, f"{command}: no {how.expect!r} in\n{said[-3000:]}"
    assert "Traceback" not in said, said[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("command", SERVERS)
def test_the_server_starts_answers_and_stops(command, clone):
    how = TABLE[command]
    if how.needs_feed:
        with feed_server() as (feed, _):
            answered(how, clone, feed=feed)
    else:
        answered(how, clone)


def answered(how: How, clone: Path, **fill) -> None:
    """Start the server, ask for its page until it answers 200, stop it (and its children)."""
    port = free_port()
    argv, env = as_run(how.argv, clone, port=port, **fill)
    log = clone / f"server-{port}.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            argv, cwd=clone, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        status = wait_for(f"http://127.0.0.1:{port}{how.serve}", proc)
        assert status == 200, f"{how.argv}: HTTP {status}\n{log.read_text()[-3000:]}"
    finally:
        stop(proc)


def wait_for(url: str, proc: subprocess.Popen) -> int | None:
    deadline = time.monotonic() + SERVE_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return httpx.get(url, timeout=60).status_code
        except httpx.HTTPError:
            time.sleep(0.5)
    return None


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group (it and the kernels it started), then KILL."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
