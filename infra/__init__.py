"""The local stack: Kafka (KRaft) and Cassandra from Maven Central, schema migrations, topics."""
