"""One cold init, in a fresh process: import a handler module and answer one event.

Prints the milliseconds it took, the process's peak resident memory (MB), the CPU time it
used (ms), the AWS clients its first event built, and the milliseconds of init (the import:
what a SnapStart snapshot holds) within the total. Run by cold_start.py; not a benchmark on its own.
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
init_ms = (time.perf_counter() - t0) * 1000
with open(event_path) as fh:
    event = json.load(fh)


class Context:
    function_name = "cold"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-3:123456789012:function:cold"
    aws_request_id = "cold-start"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


from reussite import aws  # noqa: E402  (the layer's one client per service)

at_init = set(aws._clients)
result = module.handler(event, Context())
in_handler = sorted(set(aws._clients) - at_init)  # built on the first event: not in a snapshot
elapsed = (time.perf_counter() - t0) * 1000
status = result.get("statusCode", 200) if isinstance(result, dict) else 200
assert status < 400, result  # a real first event: not a 404 or a refusal
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so every child would
# report the (larger) benchmark parent's peak; VmHWM belongs to this process's own memory map.
with open("/proc/self/status") as fh:
    status = dict(line.split(":", 1) for line in fh.read().splitlines())
peak_mb = int(status["VmHWM"].split()[0]) / 1024  # kB
print(f"{elapsed:.2f} {peak_mb:.1f} {cpu_ms:.1f} {','.join(in_handler) or '-'} {init_ms:.2f}")
