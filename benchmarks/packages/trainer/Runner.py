"""A small training: reads every input of its samples, runs a few steps, saves one checkpoint.

Each step does a little numpy work and then waits, as a step that waits for a GPU would: the
figure measures how trainings are scheduled and overlap, not how fast two cores multiply. The
state records when the training code itself began and ended (wall clock), which the client uses
to count how many trainings really ran at the same moment.
"""

import io
import time

import numpy as np

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner


class Runner(Image2ImageRunner):
    def load_assets(self):
        self.initial_weights = np.load(self.fetch_asset("files/weights.npy"))

    def inference(self, data, args=None):
        return data * self.initial_weights.mean()

    def train(self, training_data, args=None):
        began = time.time()
        args = args or {}
        steps = int(args.get("steps", 10))
        step_wait_s = float(args.get("step_wait_s", 0.5))
        dataset = self.get_training_dataset(training_data)
        images = []
        for sample in dataset:
            for item in self.fetch_data(sample[:, "input"], "image"):
                images.append(item["image"])
        volume = np.stack(images).astype(np.float32)
        weights = self.initial_weights.astype(np.float32).copy()
        loss = float("nan")
        for step in range(steps):
            gradient = float(volume.mean()) - weights
            weights += 0.1 * gradient
            loss = float(np.mean(gradient**2))
            time.sleep(step_wait_s)
            self.set_progress((step + 1) / steps)
        self.set_state({"began": began, "ended": time.time(), "loss": loss})
        buffer = io.BytesIO()
        np.save(buffer, weights)
        self.save_checkpoint({"files/weights.npy": buffer.getvalue()}, {"loss": loss, "steps": steps})
