"""(being written) ``nn.init``."""
