"""The framework modules each backend needs. compare.py calls a backend "not installed" when one
of them cannot be found; a backend process imports them first (shared.run.run_backend), so that
one that is installed but fails to import (a broken wheel, a missing shared library) is reported
in one line."""

FRAMEWORK_MODULES = {"torch": ("torch",), "tensorflow": ("tensorflow", "keras")}
