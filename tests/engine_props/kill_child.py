"""The process ``test_kill_9`` kills: one reconciliation of a pair of sandbox locations through
the HighLevel connector, which sends itself SIGKILL at a journal step.

    python -m tests.engine_props.kill_child

Everything comes from the environment (tokens included: never on a command line):
``KILL_STORE_URL``, ``KILL_PAIR_ID``, ``KILL_BASE_URL``, ``KILL_LOCATIONS`` (A and B, comma
separated), ``KILL_TOKENS`` (same order), ``KILL_AT_STEP`` (the 0-based index of the
``RunHooks.step`` call to die at). Exits 3 if the run ends without reaching that step.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from reconciler.store.db import Store
from reconciler.sync.model import Action
from reconciler.sync.run import reconcile
from tests.e2e.sandbox_pair import Locations, highlevel_sides


class KillAt:
    def __init__(self, step: int) -> None:
        self.step_index = step
        self.seen = 0

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if self.seen == self.step_index:
            # No cleanup, no flush, no finally: exactly what an OOM kill or a power cut does.
            os.kill(os.getpid(), signal.SIGKILL)
        self.seen += 1


async def main() -> int:
    env = os.environ
    a, b = env["KILL_LOCATIONS"].split(",")
    token_a, token_b = env["KILL_TOKENS"].split(",")
    locations = Locations(a, b, {"a": token_a, "b": token_b})
    store = Store(env["KILL_STORE_URL"])
    async with highlevel_sides(env["KILL_BASE_URL"], locations) as sides:
        await reconcile(
            store,
            env["KILL_PAIR_ID"],
            sides,
            hooks=KillAt(int(env["KILL_AT_STEP"])),
            full_scan=True,
        )
    await store.dispose()
    return 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
