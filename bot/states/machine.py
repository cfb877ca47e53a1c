"""Firing a trigger on a state kept in a row: the machine is shared, the model is not.

One `AsyncMachine` per kind of conversation (or per survey definition) holds no friend's
state; each event attaches a throwaway model at the row's state, fires, and detaches it
(NOTES.md: a model left attached costs memory and time)."""

from __future__ import annotations

from typing import Any

from transitions.extensions.asyncio import AsyncMachine


class _Talk:
    """The model transitions moves between states; `state` is set by the machine."""

    state: str


def build_machine(states: list[str], transitions: list[dict[str, Any]]) -> AsyncMachine:
    return AsyncMachine(
        model=None,
        states=states,
        transitions=transitions,
        auto_transitions=False,
        initial=None,
        send_event=False,
    )


async def fire(machine: AsyncMachine, state: str, trigger: str, **kwargs: Any) -> str | None:
    """The state after `trigger` from `state`, or None if no transition applies."""
    talk = _Talk()
    machine.add_model(talk, initial=state)
    try:
        if trigger not in machine.get_triggers(state):
            return None
        moved = await talk.trigger(trigger, **kwargs)  # type: ignore[attr-defined]
        return talk.state if moved else None
    finally:
        machine.remove_model(talk)
