"""A model with ~200 MB of weights (``files/weights.npy``, written at bench time).

``load_assets`` counts its calls per process; each execution logs that count, so the client can
tell a warm model (count stays 1) from one reloaded for every execution.
"""

import sys

import numpy as np

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        # Counted on the interpreter, not on this module: a re-import must not reset the count.
        sys.bench_weight_loads = getattr(sys, "bench_weight_loads", 0) + 1
        self.weights = np.load(self.fetch_asset("files/weights.npy"))

    def inference(self, data, args=None):
        loads = getattr(sys, "bench_weight_loads", 0)
        self.log_message(f"weights loaded {loads} time(s) in this process")
        return data + np.float32(self.weights[0] * 0)
