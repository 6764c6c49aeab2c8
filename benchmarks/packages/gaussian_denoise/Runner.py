"""Gaussian denoising of the stacked slices (a stand-in while no denoiser is bundled in algorithms/)."""

import numpy as np
from scipy import ndimage

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        pass

    def inference(self, data, args=None):
        sigma = float((args or {}).get("sigma", 1.0))
        return ndimage.gaussian_filter(np.asarray(data, dtype=np.float32), sigma=sigma)
