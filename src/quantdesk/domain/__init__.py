"""The pure domain model: value objects, instruments, orders, state and events. No I/O lives here."""
