"""The imperative shell: wiring, the backtest loop, the paper/live runtime."""
