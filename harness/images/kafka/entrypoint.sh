#!/bin/sh
# PLAINTEXT://:9092 -> tcp://0.0.0.0:9092; PLAINTEXT://127.0.0.1:P -> tcp://127.0.0.1:P
set -eu
plaintext() { printf '%s\n' "$1" | tr ',' '\n' | sed -n 's|^PLAINTEXT://||p' | head -n 1; }
listener=$(plaintext "${KAFKA_LISTENERS:-PLAINTEXT://:9092}")
advertised=$(plaintext "${KAFKA_ADVERTISED_LISTENERS:-PLAINTEXT://localhost:9092}")
case "$listener" in :*) listener="0.0.0.0$listener" ;; esac
# tansu also reads options such as LISTENER_URL from the environment: start it with a clean one.
exec env -i RUST_LOG=warn /usr/local/bin/tansu broker --listener-url "tcp://$listener" \
    --advertised-listener-url "tcp://$advertised" --storage-engine memory://tansu/ "$@"
