"""Evaluation harness for the assistant: gold files, metrics, and the `python -m evals` commands."""

from .gold import GoldItem, load_gold
from .metrics import retrieval_rank, retrieval_summary
from .run import Report, compare, evaluate

__all__ = ["GoldItem", "load_gold", "retrieval_rank", "retrieval_summary", "Report", "evaluate", "compare"]
