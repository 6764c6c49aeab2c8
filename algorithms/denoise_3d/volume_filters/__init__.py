"""3-D denoising filters for volumes held as numpy arrays."""
