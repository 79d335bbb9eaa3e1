"""What every stage of matthan shares: message types, config models, the store and the bus.

This package sits below ``ingest``, ``detect`` and ``dashboard`` and imports none of them.
"""
