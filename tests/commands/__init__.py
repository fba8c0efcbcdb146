"""Cog tests (disnake interactions from payloads, recorded HTTP)."""
