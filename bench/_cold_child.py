"""One cold init, in a fresh process: import a handler module and answer one event.

Prints the milliseconds it took, the process's peak resident memory (MB) and the CPU time it
used (ms). Run by cold_start.py; not a benchmark on its own.
"""

import time

t0 = time.perf_counter()

import importlib.util  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402

path, event_path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("cold_handler", path)
assert spec and spec.loader
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with open(event_path) as fh:
    event = json.load(fh)


class Context:
    function_name = "cold"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:cold"
    aws_request_id = "cold-start"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


result = module.handler(event, Context())
elapsed = (time.perf_counter() - t0) * 1000
status = result.get("statusCode", 200) if isinstance(result, dict) else 200
assert status < 500, result
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
print(f"{elapsed:.2f} {usage.ru_maxrss / 1024:.1f} {cpu_ms:.1f}")  # ru_maxrss: KiB on Linux
