"""Start `dagster dev` so that it can be stopped: a tiny exec wrapper for the browser tests.

`dagster dev` started in the background (no controlling terminal, SIGINT ignored by the
shell that launched it) ignores SIGINT/SIGTERM. This wrapper restores the default handlers,
points DAGSTER_HOME at $DATAPLATFORM_HOME/dagster (telemetry off) and then replaces itself
with `dagster dev <args>`, so the test can stop it by killing its process group.

    python tests/browser/dagster_dev.py -m dataplatform.definitions -h 127.0.0.1 -p 3333
"""

from __future__ import annotations

import os
import signal
import sys


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from dataplatform import settings

    settings.ensure_dagster_home()
    os.environ["DATAPLATFORM_HOME"] = str(settings.home())
    command = [settings.executable("dagster"), "dev", *argv]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
