"""Whole-model tuning through Relax: prepare, plan the tasks, tune them, build and check."""
