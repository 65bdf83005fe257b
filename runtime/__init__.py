"""The runtime contract every stage shares: settings, the lake's layout, the marts, spark-submit."""
