"""Sizing and risk limits: how much to trade, and whether to trade at all."""
