"""The application layer shared by the CLI, the REST API and the dashboard: plain functions over the core.

Each concern has its own module (``quantdesk.services.datasets``, …), imported by name so that one concern's
dependencies load only when it is used. Services return dataclasses with ``to_dict()`` and never print.
"""

__all__: list[str] = []
