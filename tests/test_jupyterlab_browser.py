"""The JupyterLab step-through, as a person does it, in a real JupyterLab driven through Debian's
headless Chromium (playwright): open report.ipynb, Run All, pick a run in the form, run the cells
below, and see the outputs below change. Also: the form renders as widgets, its code is
collapsed, and nothing lands in an error.

Screenshots go to $RUNBOOK_SCREENSHOTS when set (for a person to look at), else the test's tmp.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook.report.browser import chromium

from .conftest import DATA, ROOT

pytestmark = pytest.mark.browser

TOKEN = "runbook-browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_folder(outputs: Path, name: str, throughput: float) -> None:
    """A run folder whose results.jsonl holds one parsed bench_serving block (medium tier)."""
    from runbook.report.runs import gather

    block = (DATA / "bench_serving_0.5.23_block.txt").read_text().replace(
        "Output token throughput (tok/s):         298.41",
        f"Output token throughput (tok/s):         {throughput}")
    src = outputs.parent / f"{name}.txt"
    src.write_text(block)
    row = gather([str(src)]).iloc[0].to_dict()
    row.pop("label", None)
    (outputs / name).mkdir(parents=True)
    (outputs / name / "results.jsonl").write_text(json.dumps(row, default=str) + "\n")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    exe = chromium()
    if exe is None:
        pytest.skip("no chromium on PATH: `make setup` installs Debian's (as root)")
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    # A copy: JupyterLab may save the notebook (autosave), and the committed one has no outputs.
    for nb in ("report.ipynb", "bench.ipynb", "sweep.ipynb"):
        shutil.copy(ROOT / "notebooks" / nb, root / "notebooks" / nb)
    outputs = root / "outputs"
    outputs.mkdir()
    _run_folder(outputs, "20261201-010000-local-aaaaaa", 298.41)
    _run_folder(outputs, "20261201-020000-local-bbbbbb", 328.25)
    # No "official Jupyter news?" prompt over the outputs (the user settings of this lab only).
    settings = root / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = _free_port()
    log = open(root / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root",
         f"--LabApp.user_settings_dir={root / '.jupyter' / 'lab' / 'user-settings'}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
        env={**os.environ, "RUNBOOK_OUTPUTS": str(outputs), "JUPYTER_CONFIG_DIR": str(root / ".jupyter")})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    import httpx

    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/status?token={TOKEN}", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited: {(root / 'lab.log').read_text()[-3000:]}")
        time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"jupyter lab did not answer in 120 s: {(root / 'lab.log').read_text()[-3000:]}")
    yield {"url": url, "root": root, "outputs": outputs, "chromium": exe}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _wait_idle(page, timeout_s: float = 180) -> None:
    """Every cell has run: no busy ``[*]`` prompt, and the kernel says idle."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        if prompts and not any("*" in p for p in prompts):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"cells still running after {timeout_s} s: {prompts}")


def _open(pw, lab, notebook: str, errors: list[str]):
    """Chromium on the notebook in a fresh workspace (?reset: not the tabs an earlier test left
    open, hidden behind this one), once its cells show and the kernel is idle."""
    browser = pw.chromium.launch(executable_path=lab["chromium"], args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lab['url']}/lab/tree/notebooks/{notebook}?reset&token={TOKEN}")
    page.locator(".jp-Notebook:visible .jp-Cell").first.wait_for(timeout=120_000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=120_000)
    return browser, page


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def test_a_form_value_changes_the_outputs_below_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("RUNBOOK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser, page = _open(pw, lab, "report.ipynb", errors)

        # The form's code is collapsed (jupyter.source_hidden): JupyterLab shows a placeholder.
        page.locator(".jp-CodeCell .jp-InputPlaceholder").first.wait_for(timeout=30_000)
        assert page.locator(".jp-CodeCell .jp-InputPlaceholder").count() == 1  # the form cell only

        _menu(page, "Run", "Run All Cells")
        _wait_idle(page)
        page.screenshot(path=str(shots / "1-run-all.png"), full_page=True)
        fingerprints = page.locator(".jp-Cell").filter(has_text="rep.fingerprints()").first
        before = fingerprints.locator(".jp-OutputArea").inner_text()
        assert "20261201-020000-local-bbbbbb" not in before

        # The form renders as widgets: the profile as a drop-down, the runs as a choice of the
        # existing run folders (newest first).
        select = page.locator(".widget-select-multiple select").first
        select.wait_for(timeout=30_000)
        assert page.locator(".widget-dropdown select").count() >= 1
        options = select.locator("option").all_inner_texts()
        assert options == ["20261201-020000-local-bbbbbb", "20261201-010000-local-aaaaaa"]
        select.select_option(["20261201-020000-local-bbbbbb", "20261201-010000-local-aaaaaa"])
        status = page.locator(".widget-html", has_text="Run Selected Cell and All Below").first
        status.wait_for(timeout=10_000)
        assert "results" in status.inner_text()
        page.screenshot(path=str(shots / "2-form-changed.png"), full_page=True)

        # Run the cells below the form in the live kernel, as the form says.
        page.locator(".jp-Cell").filter(has_text="plumbing.open_step(").first.click()
        _menu(page, "Run", "Run Selected Cell and All Below")
        _wait_idle(page)
        page.screenshot(path=str(shots / "3-cells-below-rerun.png"), full_page=True)
        after = fingerprints.locator(".jp-OutputArea").inner_text()
        assert "20261201-020000-local-bbbbbb" in after and "20261201-010000-local-aaaaaa" in after
        deltas = page.locator(".jp-Cell").filter(has_text="rep.run_deltas()").first
        assert "20261201-020000-local-bbbbbb" in deltas.locator(".jp-OutputArea").inner_text()
        # No cell above the report's own final verdict ends in a traceback.
        tracebacks = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']",
                                  has_text="Traceback")
        assert tracebacks.count() == 0, tracebacks.all_inner_texts()
        browser.close()
    assert not errors, errors


def _cell(page, code: str):
    """The code cell whose source holds ``code`` (not one whose output mentions it), as shown (a
    notebook scrolled far may keep a hidden copy of a cell while it re-renders)."""
    return page.locator(".jp-CodeCell:visible").filter(
        has=page.locator(".jp-InputArea-editor", has_text=code)).first


def _output_of(page, code: str) -> str:
    return _cell(page, code).locator(".jp-OutputArea").inner_text()


def _run_cells_from(page, code: str, n: int) -> None:
    """Click the cell holding ``code``, then Shift+Enter ``n`` times (each runs a cell and moves
    to the next), as a person steps through."""
    cell = _cell(page, code)
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputPrompt").click()  # selects the cell (command mode)
    for _ in range(n):
        page.keyboard.press("Shift+Enter")
        page.wait_for_timeout(300)
    _wait_idle(page)


@pytest.mark.parametrize("notebook, shown_by, set_value, before, after", [
    # bench: the tier chosen in the form is the tier the cells below resolve.
    ("bench.ipynb", "stepparams.resolve_notebook_tier(",
     lambda page: page.locator(".widget-dropdown", has=page.locator("label", has_text="tier"))
     .first.locator("select").select_option(label="medium"),
     "tier low:", "tier medium:"),
    # sweep: the concurrencies typed in the form are the sweep's points.
    ("sweep.ipynb", "stepparams.resolve_sweep(",
     lambda page: page.locator(".widget-text", has=page.locator("label", has_text="concurrencies"))
     .first.locator("input").fill("2, 4"),
     "concurrencies [1, 4, 16, 64, 100]", "concurrencies [2, 4]"),
])
def test_the_bench_and_sweep_forms_set_what_the_cells_below_run(lab, tmp_path, notebook, shown_by,
                                                                 set_value, before, after):
    """Open the notebook, run its parameters and form cells, step through the cells below up to
    the one that shows what will run; set a value in the form; step through again: the output
    shows the form's value. No server is started (the cells stop before the server's)."""
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("RUNBOOK_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    stem = notebook.removesuffix(".ipynb")
    with sync_playwright() as pw:
        browser, page = _open(pw, lab, notebook, errors)
        # Everything above the cell that shows the workload (parameters, form, open_step), then it.
        _cell(page, shown_by).locator(".jp-InputArea-editor").click()
        _menu(page, "Run", "Run All Above Selected Cell")
        _wait_idle(page)
        page.locator(".widget-dropdown select").first.wait_for(timeout=30_000)  # widgets rendered
        _run_cells_from(page, shown_by, 1)
        assert before in _output_of(page, shown_by)
        page.screenshot(path=str(shots / f"{stem}-1-defaults.png"), full_page=True)

        set_value(page)
        page.locator(".widget-html", has_text="Run Selected Cell and All Below").first.wait_for(
            timeout=10_000)
        _run_cells_from(page, "plumbing.open_step(", 2)
        page.screenshot(path=str(shots / f"{stem}-2-form-changed.png"), full_page=True)
        shown = _output_of(page, shown_by)
        assert after in shown and before not in shown, shown
        browser.close()
    assert not errors, errors
