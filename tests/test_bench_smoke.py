"""Smoke tests of the benchmarks not covered elsewhere: they run in quick mode and print
the figures ``make bench`` quotes (their numbers are not measurements here)."""

from __future__ import annotations

import pytest

from tools import bench_asof, bench_exact


def test_bench_asof_prints_both_persons_with_their_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_asof.main(["--quick"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == ["example person", "contract and certificate later"]
    assert all("events off" in line and "events on" in line and "(ratio " in line for line in printed)


def test_bench_exact_prints_both_populations_and_what_exactness_decided(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_exact.main(["--quick"]) == 0
    printed = capsys.readouterr().out
    assert "5 persons: the example person with 15% of her facts left out" in printed
    assert "10 scenario persons with missing facts" in printed
    assert printed.count("ratio ") == 2 and printed.count("decided exactly: ") == 2


def test_bench_serve_measures_each_configuration_against_real_servers(capsys: pytest.CaptureFixture[str]) -> None:
    from tools import bench_serve

    assert bench_serve.main(["--seconds", "0.5", "--connections", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("served / in process: ") == 3 and printed.count("exit code on SIGTERM: 0") == 3
    assert printed.count("steady ") == 3 and printed.count("reload ") >= 3
