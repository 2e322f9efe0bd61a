"""GANs: the networks, the training engine and its callbacks, run folders, trained
generators, the toy GAN."""
