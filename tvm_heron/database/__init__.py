"""Tuning records: reading a workload's records from any MetaSchedule database."""

from .query import workload_records

__all__ = ["workload_records"]
