"""The web platform's strategy format: validated models, the loader, compiled condition trees.

- :func:`load_strategy` reads a file, JSON text or mapping into a :class:`LoadedStrategy`
  (``spec``, ``warnings``, ``unsupported``);
- :func:`compile_entry` / :func:`compile_exit` turn the spec into :class:`Condition` trees that
  the engine evaluates on closed bars.
"""

from trademaestro.strategy.loader import LoadedStrategy, load_strategy
from trademaestro.strategy.model import StrategySpec
from trademaestro.strategy.nodes import And, AtLeast, Compare, Condition, Cross, Or, Range
from trademaestro.strategy.rules import compile_entry, compile_exit
from trademaestro.strategy.support import UNSUPPORTED, unsupported_paths

__all__ = [
    "UNSUPPORTED",
    "And",
    "AtLeast",
    "Compare",
    "Condition",
    "Cross",
    "LoadedStrategy",
    "Or",
    "Range",
    "StrategySpec",
    "compile_entry",
    "compile_exit",
    "load_strategy",
    "unsupported_paths",
]
