import time

import numpy as np

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        pass

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        for step in range(args["steps"]):
            time.sleep(args["delay_s"])
            self.set_progress((step + 1) / args["steps"])
        return data
