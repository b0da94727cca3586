"""Technical indicators in numpy/pure Python, equal to TA-Lib's output, and the series-name registry."""
