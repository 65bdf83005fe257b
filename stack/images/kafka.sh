#!/bin/bash
# The kafka image's entry point (Dockerfile, target kafka).
#
#   kafka.sh broker        write server.properties from the KAFKA_* variables (KAFKA_NODE_ID
#                          -> node.id), format the log dir with CLUSTER_ID on first start, run
#   kafka.sh topics ARGS   Kafka's TopicCommand (kafka-topics.sh)
#   kafka.sh healthy       this broker is registered and unfenced: the cluster lists it
set -euo pipefail

classpath="/opt/kafka/libs/*"
config=/opt/kafka/config/server.properties

case "${1:-broker}" in
broker)
    env | grep '^KAFKA_' | grep -v '^KAFKA_HEAP_OPTS=' | while IFS='=' read -r name value; do
        key=${name#KAFKA_}
        key=${key,,}
        printf '%s=%s\n' "${key//_/.}" "$value"
    done > "$config"
    log_dir=$(sed -n 's/^log\.dirs=//p' "$config")
    if [ ! -f "$log_dir/meta.properties" ]; then
        echo "kafka: formatting $log_dir (cluster $CLUSTER_ID)"
        java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/tools-log4j2.properties \
            -cp "$classpath" kafka.tools.StorageTool format -c "$config" -t "$CLUSTER_ID"
    fi
    # shellcheck disable=SC2086  # the heap options are several words
    exec java ${KAFKA_HEAP_OPTS:--Xmx512m} -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties \
        -cp "$classpath" kafka.Kafka "$config"
    ;;
topics)
    shift
    exec java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/tools-log4j2.properties \
        -cp "$classpath" org.apache.kafka.tools.TopicCommand "$@"
    ;;
healthy)
    # The metadata lists only registered, unfenced brokers.
    kcat -b localhost:9092 -L -m 5 | grep -q "broker $KAFKA_NODE_ID at "
    ;;
*)
    echo "usage: kafka.sh broker | topics ARGS | healthy" >&2
    exit 2
    ;;
esac
