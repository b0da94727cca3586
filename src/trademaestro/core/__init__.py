"""Domain values shared by every layer: timeframes, bar dtypes, symbols, errors."""
