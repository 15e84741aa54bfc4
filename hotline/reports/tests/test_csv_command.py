"""``hotline import-csv`` as a command, in a process of its own: exit codes and messages for a partly refused
file, a clean one and a file that is not CSV at all."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.demo.blankdb import CACHE_ENV


@pytest.mark.slow
def test_the_hotline_command_exits_non_zero_when_a_line_is_refused(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", CACHE_ENV)}
    env = keep | {"HOTLINE_DEBUG": "true", "HOTLINE_VAR_DIR": str(tmp_path), "PYTHONPATH": str(root),
                  "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}

    def hotline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hotline.cli", *args], env=env, cwd=root,  # noqa: S603
                              capture_output=True, text=True, timeout=300, check=False)

    # A migrated database from the run's kept copy (hotline.demo.blankdb); `hotline migrate` is tested elsewhere.
    migrated = subprocess.run([sys.executable, "-m", "hotline.demo.blankdb"], env=env, cwd=root,
                              capture_output=True, text=True, check=False)
    assert migrated.returncode == 0, migrated.stderr
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("url;text\nhttp://cli.sim.test/1;ok\nftp://cli.sim.test/2;bad\n", encoding="utf-8")
    refused = hotline("import-csv", str(mixed), "--quiet")
    assert refused.returncode == 1
    assert "2 lines: 1 new items, 0 merged, 1 errors" in refused.stdout
    assert "line 3: field 'url'" in refused.stderr and "1 of 2 lines refused" in refused.stderr
    clean = tmp_path / "clean.csv"
    clean.write_text("url\tlanguage\nhttp://cli.sim.test/3\tnl\n", encoding="utf-8")
    assert hotline("import-csv", str(clean), "--quiet").returncode == 0
    noise = tmp_path / "noise.csv"
    noise.write_bytes(random.Random(19).randbytes(4096))
    binary = hotline("import-csv", str(noise), "--quiet")
    assert binary.returncode != 0 and "not a CSV file" in binary.stderr
    assert "Traceback" not in binary.stderr
