"""`vitaltrust calibrate`: JSON summary on stdout, plots in --out, same seed same figures."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.cli import vitaltrust_cmd


def calibrate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALTRUST_")}
    return subprocess.run([*vitaltrust_cmd(), "calibrate", *args], env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_calibrate_prints_the_summary_and_writes_the_plots(tmp_path: Path) -> None:
    result = calibrate("--users", "30", "--seed", "3", "--out", str(tmp_path / "a"),
                       "--processes", "1")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["seed"] == 3 and summary["users"] == 30
    for version in ("1", "2"):
        model = summary["models"][version]
        assert model["pairs"] > 100
        assert -1.0 <= model["spearman"] <= 1.0
        assert set(model["levels"]) <= {"excellent", "good", "fair", "poor", "insufficient"}
        assert "weight" in model["metrics"]
    assert set(summary["plots"]) >= {"weight", "steps", "pooled"}
    for path in summary["plots"].values():
        assert Path(path).read_text().startswith("<svg")
    # the same seed gives the same figures (in a different directory, with two processes)
    again = calibrate("--users", "30", "--seed", "3", "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["models"] == summary["models"]


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    result = calibrate("--fit", "one,two", "--users", "5")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: --fit takes comma-separated integer "
                                                  "seeds, not 'one,two'"]
    assert calibrate("--users", "0").returncode != 0


def test_fit_prints_coefficients_and_a_device_table() -> None:
    result = calibrate("--fit", "21,22", "--users", "25", "--processes", "1")
    assert result.returncode == 0, result.stderr
    fitted = json.loads(result.stdout)
    assert fitted["fit_seeds"] == [21, 22]
    assert set(fitted["coefficients"]) >= {"intercept", "E", "F", "C"}
    assert set(fitted["metric_coefficients"]["weight"]) == set(fitted["coefficients"])
    assert fitted["device_error"]["weight"]["scale"] < fitted["device_error"]["weight"]["manual"]
