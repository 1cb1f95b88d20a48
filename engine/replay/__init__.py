"""``papertrader replay``: datasets of candles through the engine's decisions into a new DuckDB file, as fast as the
CPU allows (:mod:`engine.replay.run`)."""

from engine.replay.columns import CandleColumns
from engine.replay.run import Progress, ReplaySummary, replay

__all__ = ["CandleColumns", "Progress", "ReplaySummary", "replay"]
