"""The status page: what every experiment is doing, for the people running it."""

from .report import StatusData, build_report, merge_queue_stats, read_counts

__all__ = ["StatusData", "build_report", "merge_queue_stats", "read_counts"]
