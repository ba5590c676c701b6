"""Outside a workstation, a missing secret stops startup and says what to set."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("missing", ["SECRET_KEY", "AUDIT_SIGNING_KEY", "AUDIT_SUBJECT_PEPPER"])
def test_missing_secret_stops_startup_with_a_clear_message(missing, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "leadops.settings.base",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",
        "LEADOPS_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 50,
        "AUDIT_SIGNING_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "AUDIT_SUBJECT_PEPPER": "pepper",
    }
    del env[missing]

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert f"{missing} is not set. Set {missing} (or {missing}_FILE)" in result.stderr
    assert not (tmp_path / missing.lower()).exists()
