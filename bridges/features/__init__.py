"""Features that add outbox event kinds, one module each.

Each module keeps, for its own event kinds, a table (``KINDS``, a :class:`bridges.kinds.Kinds`):
the fan-out rules and the message each channel shows. Importing a module registers nothing;
composition installs the tables, one line per feature (``bridges.registry.FEATURES``).
"""
