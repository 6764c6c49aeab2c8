import os
import time

import numpy as np

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        self.factor = float(self.fetch_asset("files/factor.txt").read().decode())

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        return data * self.factor

    def train(self, training_data, args: dict | None = None):
        dataset = self.get_training_dataset(training_data)
        voxels = 0
        for sample in dataset:
            for entry in sample.get_file_list():
                voxels += sum(len(file_ids) for file_ids in entry.values())
        self.log_message(f"starting from factor {self.factor} with {voxels} file(s)")
        started = time.time()
        self.set_state({"step": 0, "pid": os.getpid()})
        if args["mode"] == "sleep_silently":
            time.sleep(args["delay_s"] * args["steps"])
        for step in range(args["steps"]):
            time.sleep(args["delay_s"])
            self.set_progress((step + 1) / args["steps"])
            self.set_state({"step": step + 1, "pid": os.getpid()})
            if args["mode"] == "raise":
                raise RuntimeError("deliberate training failure")
        if args["mode"] == "no_checkpoint":
            return
        path = "files/not_an_asset.bin" if args["mode"] == "unknown_asset" else "files/factor.txt"
        self.save_checkpoint({path: str(args["factor"]).encode()},
                             properties={"factor": args["factor"], "files": voxels,
                                         "started": started, "ended": time.time()})
