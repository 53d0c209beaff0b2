"""The terminal echo of a running step: whole lines through, prefixed; \\r redraws throttled."""

from __future__ import annotations

import io

from runbook.core.progress import TerminalEcho


def test_lines_pass_and_redraws_are_throttled():
    buf = io.StringIO()
    echo = TerminalEcho(buf, prefix="| ", every_s=3600)
    echo.write("waiting for http://x: /health_generate: 503 | log: Load weight begin\n")
    for i in range(51):  # a tqdm bar redrawing, in chunks that split its lines
        text = f"\rFetching 61 files: {i * 2:3d}%|{'#' * (i // 5):10s}| {i}/50"
        echo.write(text[:7])
        echo.write(text[7:])
    echo.write("\nready via /health_generate in 12.0 s\n")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "| waiting for http://x: /health_generate: 503 | log: Load weight begin"
    bars = [ln for ln in lines if "Fetching" in ln]
    assert len(bars) == 2 and "100%|" in bars[1]  # the first redraw, then the finished bar
    assert lines[-1] == "| ready via /health_generate in 12.0 s"


def test_the_log_line_shown_is_not_our_own_probe(tmp_path):
    from runbook.deploy.server import last_line

    log = tmp_path / "server.log"
    log.write_text("[19:53:50] Load weight begin. avail mem=2.1 GB\n" + "".join(
        f'[19:53:5{i}] INFO:     127.0.0.1:4837 - "GET /health_generate HTTP/1.1" 503 Service Unavailable\n'
        for i in range(5)))
    assert last_line(log) == "[19:53:50] Load weight begin. avail mem=2.1 GB"


def test_a_tool_whose_output_goes_to_a_log_shows_only_its_progress():
    from runbook.core.progress import ThrottledEcho

    shown: list[str] = []
    echo = ThrottledEcho(shown.append, every_s=0, only_bars=True)
    echo("Namespace(backend='sglang', ...)\n  0%|          | 0/10 [00:00<?, ?it/s]\n"
         # the warm-up bar's last redraw, then bench_serving's print on the same line (seen)
         "100%|##########| 1/1 [00:01<00:00,  1.20s/it]benchmark_args=Namespace(backend='sglang')\n"
         "============ Serving Benchmark Result ============\nSuccessful requests: 10\n")
    assert shown == ["  0%|          | 0/10 [00:00<?, ?it/s]",
                     "100%|##########| 1/1 [00:01<00:00,  1.20s/it]"]
