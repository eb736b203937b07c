"""The stand-in agent's stop: a signal ends a wait at once, never a turn."""

from __future__ import annotations

import pytest

from hive_dev.echo_agent import Stop, Stopped


def test_a_stop_outside_a_wait_only_sets_the_flag() -> None:
    stop = Stop()
    stop(15, None)  # as the signal handler, during a turn
    assert stop.requested


def test_a_stop_during_a_wait_ends_it_and_the_next_wait_does_not_begin() -> None:
    stop = Stop()
    with pytest.raises(Stopped), stop.interruptible():
        stop(15, None)
        pytest.fail("the wait went on")
    assert stop.requested
    with pytest.raises(Stopped), stop.interruptible():
        pytest.fail("a wait began after the stop")
    stop(15, None)  # no wait any more: nothing raised
