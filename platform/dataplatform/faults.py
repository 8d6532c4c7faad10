"""Named points where a test kills the process (SIGKILL, no clean-up of any kind), to show that
the next run recovers from a crash at exactly that point. Inert unless DATAPLATFORM_KILL_AT names
the point; nothing else reads the variable."""

from __future__ import annotations

import os
import signal

KILL_AT = "DATAPLATFORM_KILL_AT"


def point(name: str) -> None:
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
