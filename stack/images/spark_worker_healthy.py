"""Health check of a Spark worker container: the master lists it, by its address, as ALIVE.

Its own web UI would answer before it registers. A script, not `python -c`: podman's Docker
API splits an exec-form check's arguments at spaces.
"""

import json
import socket
import sys
import urllib.request

with urllib.request.urlopen("http://spark-master:8080/json/", timeout=5) as body:
    workers = json.load(body)["workers"]
address = socket.gethostbyname(socket.gethostname())
sys.exit(not any(w["host"] == address and w["state"] == "ALIVE" for w in workers))
