"""/teams: the fairest split of up to 12 players into two teams, with Accept and Next best
split buttons that keep working after a restart (domain: :mod:`etbot.teams`,
:mod:`etbot.balance`).

The buttons are persistent components (:mod:`etbot.views.components`): their custom ids
are ``etbot:teams:<action>:<proposal id>:<split index shown>`` and everything else is read
from the database, so no view object has to survive a restart. Only the member who asked
may press them (checked in the domain, answered privately by the error path).
"""

from __future__ import annotations

import logging

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction, MessageInteraction

from etbot import balance, teams
from etbot.commands._base import COLOUR_INFO, COLOUR_OK, BaseCog, get_resources
from etbot.commands.converters import optional_player_param
from etbot.commands.formatting import clip, escape
from etbot.errors import BadOption
from etbot.players import PlayerRef
from etbot.views.components import CustomIdError, component_listener, custom_id, int_arg

log = logging.getLogger(__name__)

NAMESPACE = "teams"
ACCEPT = "accept"
NEXT = "next"
#: Discord's limits: embed field value.
FIELD_MAX = 1024

_SOURCES = {
    "players": "the players picked",
    "session": "everyone from the last session",
    "round": "everyone from the last round",
}


def team_lines(team: tuple[teams.TeamPlayer, ...]) -> str:
    """One player per line with their rating (– when not rated)."""
    lines = [f"{escape(p.name)} ({p.rating if p.rating is not None else '–'})" for p in team]
    return clip("\n".join(lines), FIELD_MAX)


def teams_embed(proposal: teams.Proposal) -> disnake.Embed:
    """The /teams message for one proposal (accepted or not)."""
    p_a = proposal.p_team_a
    if proposal.index == 0:
        which = f"The fairest of {proposal.splits} splits"
    else:
        which = f"Split {proposal.index + 1} of {proposal.splits} (fairest first)"
    description = (
        f"Predicted chance to win a map: **Team A {p_a:.0%}** · **Team B {1 - p_a:.0%}**\n"
        f"{which} of {_SOURCES.get(proposal.source, proposal.source)}"
    )
    if proposal.accepted:
        # An embed never pings, so the mention only shows who it was.
        description += f"\n✅ Accepted by <@{proposal.accepted_by}>"
    embed = disnake.Embed(
        title="Teams" if not proposal.accepted else "Teams · accepted",
        description=description,
        colour=COLOUR_OK if proposal.accepted else COLOUR_INFO,
    )
    embed.add_field(f"Team A ({len(proposal.team_a)})", team_lines(proposal.team_a))
    embed.add_field(f"Team B ({len(proposal.team_b)})", team_lines(proposal.team_b))
    embed.set_footer(
        text="Ratings in brackets. Chances are the mean over both attack orders; draws excluded."
    )
    return embed


def teams_buttons(proposal: teams.Proposal) -> list[disnake.ui.Button]:
    """Accept and Next best split for the split shown; none once accepted."""
    if proposal.accepted:
        return []
    return [
        disnake.ui.Button(
            style=disnake.ButtonStyle.success,
            label="Accept",
            custom_id=custom_id(NAMESPACE, ACCEPT, proposal.id, proposal.index),
        ),
        disnake.ui.Button(
            style=disnake.ButtonStyle.primary,
            label="Next best split",
            custom_id=custom_id(NAMESPACE, NEXT, proposal.id, proposal.index),
            disabled=not proposal.has_next,
        ),
    ]


class TeamsCog(BaseCog):
    """Fair teams."""

    @commands.slash_command(
        name="teams", description="The fairest split into two teams, with the win chance"
    )
    async def teams_command(
        self,
        inter: ApplicationCommandInteraction,
        player1: PlayerRef | None = optional_player_param("Player 1"),
        player2: PlayerRef | None = optional_player_param("Player 2"),
        player3: PlayerRef | None = optional_player_param("Player 3"),
        player4: PlayerRef | None = optional_player_param("Player 4"),
        player5: PlayerRef | None = optional_player_param("Player 5"),
        player6: PlayerRef | None = optional_player_param("Player 6"),
        player7: PlayerRef | None = optional_player_param("Player 7"),
        player8: PlayerRef | None = optional_player_param("Player 8"),
        player9: PlayerRef | None = optional_player_param("Player 9"),
        player10: PlayerRef | None = optional_player_param("Player 10"),
        player11: PlayerRef | None = optional_player_param("Player 11"),
        player12: PlayerRef | None = optional_player_param("Player 12"),
        from_last: str = commands.Param(
            default="",
            description="Instead of picking players: everyone from the last session or round",
            choices=[
                disnake.OptionChoice("session", "session"),
                disnake.OptionChoice("round", "round"),
            ],
        ),
    ) -> None:
        picked = [
            ref
            for ref in (
                player1,
                player2,
                player3,
                player4,
                player5,
                player6,
                player7,
                player8,
                player9,
                player10,
                player11,
                player12,
            )
            if ref is not None
        ]
        if picked and from_last:
            raise BadOption("Pick players or use `from_last`, not both.")
        if not picked and not from_last:
            raise BadOption("Pick at least two players (`player1`, `player2`…) or use `from_last`.")
        seen: set[int] = set()
        for ref in picked:
            if ref.id in seen:
                raise BadOption("{player} is picked twice: pick each player once.", player=ref.name)
            seen.add(ref.id)
        if from_last:
            source: teams.Source = "session" if from_last == "session" else "round"
            guids = None
        else:
            source = "players"
            guids = [ref.guid for ref in picked]
            balance.check_players(guids)  # the count, before anything is deferred
        await inter.response.defer()
        proposal = await self.res.run(teams.propose, guids, inter.author.id, source=source)
        await inter.edit_original_response(
            embed=teams_embed(proposal), components=teams_buttons(proposal)
        )

    @component_listener(NAMESPACE)
    async def on_teams_button(
        self, inter: MessageInteraction, action: str, args: list[str]
    ) -> None:
        """Accept / Next best split on any /teams message, also from before a restart."""
        proposal_id, shown = int_arg(args, 0), int_arg(args, 1)
        if action == NEXT:
            proposal = await self.res.run(teams.next_split, proposal_id, shown, inter.author.id)
        elif action == ACCEPT:
            proposal = await self.res.run(teams.accept, proposal_id, shown, inter.author.id)
            log.info("teams proposal %d accepted by %s", proposal_id, inter.author.id)
        else:
            raise CustomIdError(f"unknown /teams action {action!r}")
        await inter.response.edit_message(
            embed=teams_embed(proposal), components=teams_buttons(proposal)
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(TeamsCog(get_resources(bot)))
