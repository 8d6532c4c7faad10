"""One sqlfluff configuration for the whole dbt project; models must pass it."""

import subprocess
import sys
from pathlib import Path

from dataplatform.settings import DBT_PROJECT_DIR


def test_models_pass_sqlfluff():
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    result = subprocess.run(
        [str(sqlfluff), "lint", "models", "--format", "github-annotation-native", "--nofail"],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )
    violations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert result.returncode == 0 and violations == [], "\n".join(violations) or result.stderr
