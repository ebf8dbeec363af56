"""A Confluent-compatible schema registry for ``order-events``: the embedded one, and the sync with a real one.

- :mod:`.catalogue`: subjects, versions and schema ids over the event store's schema catalogue.
- :mod:`.wire`: the registry's Avro wire format (magic byte, schema id, Avro binary).
- :mod:`.views`: the embedded registry's REST API under ``/schema-registry/``.
- :mod:`.sync` and :mod:`.client`: registering the catalogue with a real registry
  (``SCHEMA_REGISTRY_URL``) through confluent-kafka's ``SchemaRegistryClient``.
"""
