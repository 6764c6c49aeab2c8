"""Returns its input after ``steps`` steps of ``delay_s`` seconds: a run that stays active (until
stopped) while a benchmark follows it."""

import time

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        pass

    def inference(self, data, args=None):
        for step in range(args["steps"]):
            time.sleep(args["delay_s"])
            self.set_progress((step + 1) / args["steps"])
        return data
