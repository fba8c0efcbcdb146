"""Persistent components: custom ids round-trip, and a cog's listener gets exactly the
clicks, selects and modal submissions of its namespace, whatever message they come from."""

from __future__ import annotations

import pytest
from disnake.ext import commands
from hypothesis import given
from hypothesis import strategies as st

from discordkit import INTERACTION_CALLBACK, DiscordRecorder
from discordkit import payloads as p
from etbot.views.components import (
    MAX_CUSTOM_ID,
    CustomIdError,
    component_listener,
    custom_id,
    int_arg,
    parse_custom_id,
)

part = st.text(st.characters(blacklist_characters=":"), min_size=1, max_size=12)


@given(namespace=part, action=part, args=st.lists(part, max_size=4))
def test_custom_ids_round_trip(namespace: str, action: str, args: list[str]) -> None:
    try:
        value = custom_id(namespace, action, *args)
    except CustomIdError:
        assert len(":".join(["etbot", namespace, action, *args])) > MAX_CUSTOM_ID
        return
    assert parse_custom_id(value, namespace) == (action, args)
    assert parse_custom_id(value, namespace + "x") is None


@pytest.mark.parametrize(
    "bad", [("bet", "side", "a:b"), ("bet", "", 1), ("bet", "side", "x" * 100)]
)
def test_invalid_custom_ids_are_refused(bad: tuple[str, str, object]) -> None:
    with pytest.raises(CustomIdError):
        custom_id(*bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, "", "etbot", "etbot:bet", "etbot:bet:", "other:bet:x"])
def test_foreign_or_broken_ids_are_not_ours(value: str | None) -> None:
    assert parse_custom_id(value, "bet") is None


def test_int_args_are_validated() -> None:
    assert int_arg(["42", "1"], 0) == 42
    for args in ([], ["x"], ["1e3"]):
        with pytest.raises(CustomIdError):
            int_arg(args, 0)


class Probe(commands.Cog):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []

    @component_listener("probe")
    async def on_probe_button(self, inter, action: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("button", action, args))
        if action == "explode":
            raise RuntimeError("boom")
        await inter.response.send_message(f"ok {action}", ephemeral=True)

    @component_listener("probe", event="dropdown")
    async def on_probe_select(self, inter, action: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("select", action, [*args, *inter.values]))
        await inter.response.defer()

    @component_listener("probe", event="modal_submit")
    async def on_probe_modal(self, inter, action: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("modal", action, [*args, inter.text_values["amount"]]))
        await inter.response.send_message("thanks", ephemeral=True)


async def test_listeners_get_their_namespace_only(rec: DiscordRecorder) -> None:
    probe = Probe()
    rec.bot.add_cog(probe)
    ours = p.button_click("etbot:probe:hello:7")
    select = p.select_menu("etbot:probe:season:1", ["2025-Q4"])
    modal = p.modal_submit("etbot:probe:amount:3", {"amount": "25"})
    await rec.dispatch(ours)
    await rec.dispatch(p.button_click("etbot:other:hello:7"))  # another feature's button
    await rec.dispatch(select)
    await rec.dispatch(modal)
    reply = await rec.wait_for_response(ours)
    assert reply.content == "ok hello"
    assert reply.ephemeral
    await rec.wait_for_response(select)
    await rec.wait_for_response(modal)
    assert len(rec.by_route(INTERACTION_CALLBACK)) == 3  # nothing answered the other button
    assert probe.calls == [
        ("button", "hello", ["7"]),
        ("select", "season", ["1", "2025-Q4"]),
        ("modal", "amount", ["3", "25"]),
    ]


async def test_handler_errors_take_the_error_path(rec: DiscordRecorder) -> None:
    rec.bot.add_cog(Probe())
    click = p.button_click("etbot:probe:explode")
    await rec.dispatch(click)
    reply = await rec.wait_for_response(click)
    assert reply.ephemeral
    assert "Something went wrong (ref" in reply.embeds[0]["description"]
    assert "boom" not in str(reply.json)


async def test_malformed_ids_are_answered_as_outdated(rec: DiscordRecorder) -> None:
    class Strict(commands.Cog):
        @component_listener("strict")
        async def on_strict(self, inter, action: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
            int_arg(args, 0)  # a tampered or old id: not a number
            await inter.response.send_message("unreachable", ephemeral=True)

    rec.bot.add_cog(Strict())
    click = p.button_click("etbot:strict:go:notanumber")
    await rec.dispatch(click)
    reply = await rec.wait_for_response(click)
    assert reply.ephemeral
    assert "outdated" in reply.embeds[0]["description"]
