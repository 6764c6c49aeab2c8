"""A small 3-D U-Net for volume denoising, and the volume handling around it."""
