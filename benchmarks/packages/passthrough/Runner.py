"""Returns its input slices unchanged: what is left of an execution is the server's own overhead."""

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        pass

    def inference(self, data, args=None):
        return data
