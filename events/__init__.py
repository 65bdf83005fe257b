"""The event contract: envelope, catalog of event types, JSON Schemas and the Spark schema."""
