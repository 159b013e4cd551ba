"""(being written) ``nn.utils``."""
