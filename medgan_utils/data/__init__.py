"""Reading medical images: files and folders, the built-in brain-MRI set, one Dataset."""
