"""numpy scalars where a field takes them: lines marked `# error` must be reported by mypy --strict
and by pyright (strict), and no other. numpy's own stubs need Python 3.11, so this file is
checked for the running interpreter's version, not for 3.10 as the others are."""

import numpy as np

from generated.worker_stats import WorkerStats

stats = WorkerStats(processed=np.int16(1), elapsed=np.float64(2.0), stop=np.bool_(False))
stats.processed = np.int64(3)  # any integer: through __index__
stats.elapsed = np.float32(0.5)  # a numpy floating scalar
stats.elapsed = np.int64(2)  # or integer, as for a float
stats.stop = np.True_
stats.update_progress(processed=np.uint8(4), failed=np.int32(0))
stats.processed = np.float64(1.0)  # error
stats.stop = np.int64(1)  # error
stats.stop = 1  # error
