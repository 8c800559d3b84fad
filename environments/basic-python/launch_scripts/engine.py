"""An engine: asks the master for numbers, tests them, posts the results back."""

import json
import os
import time
import urllib.request

MASTER = "http://master:8888"  # components reach each other by name
NODE = os.environ.get("CLUSTEROUS_NODE", "?")


def is_prime(n: int) -> bool:
    if n < 2 or n % 2 == 0:
        return n == 2
    factor = 3
    while factor * factor <= n:
        if n % factor == 0:
            return False
        factor += 2
    return True


while True:
    try:
        with urllib.request.urlopen(f"{MASTER}/work", timeout=10) as reply:
            n = json.load(reply)["n"]
        result = json.dumps({"n": n, "prime": is_prime(n), "node": NODE})
        urllib.request.urlopen(f"{MASTER}/result", data=result.encode(), timeout=10).close()
    except OSError as problem:
        print(f"master not reachable yet: {problem}", flush=True)
        time.sleep(2)
