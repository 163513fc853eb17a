"""Custom-field hashes and the naming convention shared by the custom-field and row-shaping tests."""

from dlt.common.normalizers.naming.snake_case import NamingConvention

NAMING = NamingConvention()
ENUM = "9dc80c50d78a15643bfc4ca79d76156a73a1ca0e"
SET = "4b0c16b2f6b8e1c0a1c3a3a6e1e0c1d2e3f4a5b6"
MONEY = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
RANGE = "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
ADDRESS = "c1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
USER = "d1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
