"""Running strategies: on benchmark tables in-process (every lookup is a counted query)."""
from .benchmark_search import SearchResult, run_benchmark_search

__all__ = ['SearchResult', 'run_benchmark_search']
