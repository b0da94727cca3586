"""The run report: trade rows, statistics, the report dict and its JSON file, a rich summary.

Public API: :func:`build_trades`, :func:`compute_stats`, :func:`build_report`,
:func:`write_report_json`, :func:`render_summary`, :class:`ReportError`.
"""

from trademaestro.report.build import build_report, write_report_json
from trademaestro.report.errors import ReportError
from trademaestro.report.render import render_summary
from trademaestro.report.stats import compute_stats
from trademaestro.report.trades import build_trades

__all__ = [
    "ReportError",
    "build_report",
    "build_trades",
    "compute_stats",
    "render_summary",
    "write_report_json",
]
