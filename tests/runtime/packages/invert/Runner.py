import numpy as np

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        pass

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        self.log_message(f"parameters: {sorted(args.items())}")
        out = np.empty_like(data)
        for index in range(data.shape[0]):
            plane = data[index]
            out[index] = plane.max() - plane + args["offset"] if args["mode"] == "invert" else plane
            self.set_progress((index + 1) / data.shape[0])
        return out
