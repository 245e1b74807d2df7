"""Named points where a crash test makes the server die (or stall) on purpose.

`BITRAG_FAILPOINTS="compact.committed=kill,compact.copied=sleep:2"`: reaching a point named there
SIGKILLs this process (a real, unannounced death: no cleanup, no flush), or sleeps that many
seconds first, or (`wait:PATH`) creates `PATH.reached` and holds until the test creates `PATH`:
a test that must act while the server is at a point (health before the model is loaded, a drop
during a calibration) waits for the first file and releases it with the second, with no timing. Unset (production), `hit` is one dict lookup. Read from the environment at import,
not from Settings: it is a test's instrument, never a setting.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _parse(spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in spec.split(","):
        name, _, action = item.strip().partition("=")
        if name:
            out[name] = action or "kill"
    return out


_POINTS = _parse(os.environ.get("BITRAG_FAILPOINTS", ""))


def hit(name: str) -> None:
    action = _POINTS.get(name)
    if action is None:
        return
    if action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
        return
    if action.startswith("wait:"):
        path = Path(action.split(":", 1)[1])
        Path(f"{path}.reached").touch()
        while not path.exists():
            time.sleep(0.02)
        return
    os.kill(os.getpid(), signal.SIGKILL)
