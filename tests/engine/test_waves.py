"""Waves are sized by how fast the sides answer (``apply.WavePace``): a fast side's writes are
committed in large waves (few commits), a slow side's in small ones (results committed soon,
few pending intents for a crash to leave)."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.sides.base import Contact, ContactDraft
from reconciler.sides.memory import MemorySide
from reconciler.store.db import Store
from reconciler.sync import apply
from reconciler.sync.apply import WavePace
from reconciler.sync.model import Action
from tests.engine.conftest import make_env


class WaveLog:
    """The size of each wave: the intents committed before its calls return."""

    def __init__(self) -> None:
        self.waves: list[int] = []
        self._open = False

    async def step(self, name: str, *, action: Action | None = None) -> None:
        if name == "intent_committed":
            if not self._open:
                self.waves.append(0)
                self._open = True
            self.waves[-1] += 1
        elif name == "write_returned":
            self._open = False


class SlowSide(MemorySide):
    async def create_contact(self, draft: ContactDraft) -> Contact:
        await asyncio.sleep(0.02)
        return await super().create_contact(draft)


@pytest.fixture
def small_waves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apply, "WAVE", 10)
    monkeypatch.setattr(apply, "WAVE_MIN", 5)
    monkeypatch.setattr(apply, "WAVE_MAX", 40)


async def _waves_creating(
    store: Store, count: int, side_class: type[MemorySide] = MemorySide
) -> list[int]:
    """The waves of one run that copies ``count`` new contacts of A to B (all of them)."""
    env = await make_env(store, side_class=side_class)
    for n in range(count):
        env.a.user.add_contact(first_name="New", email=f"new{n}@example.com")
    log = WaveLog()

    report = await env.run(hooks=log)

    assert report.status == "succeeded", report.errors
    assert len(env.b.user.contacts()) == count
    return log.waves


async def test_a_fast_side_gets_larger_waves(store: Store, small_waves: None) -> None:
    assert await _waves_creating(store, 100) == [10, 40, 40, 10]


async def test_a_slow_side_gets_smaller_waves(
    store: Store, small_waves: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apply, "WAVE_SECONDS", 0.01)  # 10 creates take 20-40 ms here
    assert await _waves_creating(store, 30, SlowSide) == [10, 5, 5, 5, 5]


def test_a_wave_the_plan_could_not_fill_says_nothing_of_the_pace(
    small_waves: None,
) -> None:
    pace = WavePace(10)
    pace.record(3, 60.0)  # the last few writes of the plan, however slow
    assert pace.size == 10
    pace.record(10, 60.0)
    assert pace.size == 5  # floor
    pace.record(5, 0.001)
    assert pace.size == 40  # ceiling
