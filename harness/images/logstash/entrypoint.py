"""Run the collector with the inputs and output of the Logstash pipeline the harness mounted."""

import os
import pathlib
import re
import sys

PIPELINE = pathlib.Path("/usr/share/logstash/pipeline")
text = "".join(path.read_text() for path in sorted(PIPELINE.glob("*.conf")))
udp = re.search(r'udp \{ host => "([^"]+)" port => (\d+)', text)
http = re.search(r'http \{ host => "([^"]+)" port => (\d+)', text)
output = re.search(r'file \{ path => "([^"]+)"', text)
if not (udp and http and output):
    sys.exit(f"logstash stand-in: no udp/http input or file output in {PIPELINE}:\n{text}")
argv = [sys.executable, "/opt/collector/collector.py", "--host", udp.group(1)]
argv += ["--udp-port", udp.group(2), "--http-port", http.group(2), "--events", output.group(1)]
redis = {
    kind: (host, port, key)
    for host, port, kind, key in re.findall(
        r'redis \{ host => "([^"]+)" port => (\d+) data_type => "(\w+)" key => "([^"]+)"', text
    )
}
if redis:
    host, port, key = redis.get("list", next(iter(redis.values())))
    argv += ["--redis-url", f"redis://{host}:{port}/0", "--redis-key", key]
    argv += ["--redis-channel", redis.get("channel", (host, port, key))[2]]
print("logstash stand-in:", " ".join(argv[1:]), flush=True)
os.execv(sys.executable, argv)
