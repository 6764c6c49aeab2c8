import numpy as np

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        pass

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        self.set_progress(0.3)
        raise ValueError("deliberate failure in inference")
