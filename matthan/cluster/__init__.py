"""Scale-out over NATS JetStream: a site's nodes and station joined by one message server.

Nothing here is imported by a single-machine site: ``matthan run`` works without NATS. The
pieces (see docs/SCALING.md):

- :mod:`matthan.cluster.server`: find and run the site's ``nats-server`` with JetStream.
- :mod:`matthan.cluster.client`: a synchronous facade over nats-py for our threads.
- :mod:`matthan.cluster.leases`: which node analyses which camera (KV leases with a TTL).
- :mod:`matthan.cluster.alert_stream`: alerts from the nodes to the station's store, each
  stored exactly once (the events themselves: :mod:`matthan.cluster.alert_events`).
- :mod:`matthan.cluster.kv` (bucket helpers) and :mod:`matthan.cluster.metrics`.
"""
