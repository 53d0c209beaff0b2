"""Where the engines' CPU torch comes from: a local wheel where one is (this workplace), else
PyTorch's CPU index where it answers (a user's machine); neither is a clear error before any
build. The index is a loopback server here — no machine here reaches the real one."""

from __future__ import annotations

import http.server
import threading

import pytest

from runbook.core.errors import EngineError
from runbook.engine import build, sources


@pytest.fixture()
def no_local_wheel(monkeypatch, tmp_path):
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    monkeypatch.setattr(sources, "_local_wheel", lambda: None)


def test_a_local_wheel_is_carried_in(monkeypatch, tmp_path):
    (tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"w")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    src = sources.torch_source()
    assert src.wheel == tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert src.pip_args() == [str(src.wheel)]


def test_without_a_wheel_the_index_that_answers(no_local_wheel, monkeypatch):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/whl/cpu/torch/" else 404)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        index = f"http://127.0.0.1:{srv.server_port}/whl/cpu"
        monkeypatch.setenv("RUNBOOK_TORCH_INDEX", index)
        src = sources.torch_source()
        assert src.wheel is None and src.pip_args() == ["--index-url", index, "torch==2.13.0+cpu"]
    finally:
        srv.shutdown()


def test_neither_reachable_names_both_ways(no_local_wheel, monkeypatch):
    monkeypatch.setenv("RUNBOOK_TORCH_INDEX", "http://127.0.0.1:9/whl/cpu")  # nothing listens
    with pytest.raises(EngineError) as e:
        sources.torch_source()
    assert "PIP_FIND_LINKS" in str(e.value) and "RUNBOOK_TORCH_INDEX" in str(e.value.hint)


def test_both_dockerfiles_install_from_the_index_when_no_wheel_is_carried():
    for name in ("sglang.Dockerfile", "vllm.Dockerfile"):
        text = (build.HERE / name).read_text()
        assert 'ARG TORCH_INDEX=""' in text
        assert 'pip install --index-url "$TORCH_INDEX" "torch==2.13.0+cpu"' in text
